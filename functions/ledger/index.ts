import { ledger } from '../../lib/channels.ts';
import { guaranteedConsumer } from 'delivery-policies/runtime';
import { handleInvoice } from './handle.ts';

export const handler = guaranteedConsumer({ channel: ledger, handle: handleInvoice });
