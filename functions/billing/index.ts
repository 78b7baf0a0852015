import { billing, ledger } from '../../lib/channels.ts';
import { guaranteedConsumer } from 'delivery-policies/runtime';
import { handleOrderPlaced } from './handle.ts';

export const handler = guaranteedConsumer({ channel: billing, sendsTo: { ledger }, handle: handleOrderPlaced });
