import { shipping } from '../../lib/channels.ts';
import { guaranteedConsumer } from 'delivery-policies/runtime';
import { handleShipment } from './handle.ts';

export const handler = guaranteedConsumer({ channel: shipping, handle: handleShipment });
