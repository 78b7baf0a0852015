import { fireAndForgetConsumer } from 'delivery-policies/runtime';
import { alerts } from '../../lib/channels.ts';

/** Shows the alert while it is worth something; an expired one never reaches here. */
export const handler = fireAndForgetConsumer({
  channel: alerts,
  handle: async (alert, { logger }) => logger.info('alert', { text: alert.text }),
});
