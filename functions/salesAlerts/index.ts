import { salesAlerts } from '../../lib/channels.ts';
import { fireAndForgetConsumer } from 'delivery-policies/runtime';
import { handleLargeOrder } from './handle.ts';

export const handler = fireAndForgetConsumer({ channel: salesAlerts, handle: handleLargeOrder });
