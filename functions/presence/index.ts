import { presence } from '../../lib/channels.ts';
import { fireAndForgetConsumer } from 'delivery-policies/runtime';
import { handlePresence } from './handle.ts';

export const handler = fireAndForgetConsumer({ channel: presence, handle: handlePresence });
