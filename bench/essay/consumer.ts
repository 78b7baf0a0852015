import { guaranteedConsumer } from '../../functions/runtime/index.ts';
import { asyncChannels, SERVICE_WORK_MS } from './channels.ts';

const channel = asyncChannels[process.env.CHANNEL_NAME!]!;

export const handler = guaranteedConsumer({
  channel,
  handle: async ({ orderId, workMs = SERVICE_WORK_MS }) => {
    await new Promise((resolve) => setTimeout(resolve, workMs));
    return { reply: { service: channel.name, orderId } };
  },
});
