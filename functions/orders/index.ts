import { orders } from '../../lib/channels.ts';
import { guaranteedConsumer } from 'delivery-policies/runtime';
import { handleOrder } from './handle.ts';

export const handler = guaranteedConsumer({ channel: orders, handle: handleOrder });
