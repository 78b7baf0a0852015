import { presence } from '../../lib/channels.ts';
import { fireAndForgetConsumer } from '../runtime/index.ts';
import { handlePresence } from './handle.ts';

export const handler = fireAndForgetConsumer({ channel: presence, handle: handlePresence });
