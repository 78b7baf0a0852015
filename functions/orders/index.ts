import { orders } from '../../lib/channels.ts';
import { guaranteedConsumer } from '../runtime/index.ts';
import { handleOrder } from './handle.ts';

export const handler = guaranteedConsumer({ channel: orders, handle: handleOrder });
