import { guaranteedConsumer } from '../../functions/runtime/index.ts';
import { essayChannels, SERVICE_WORK_MS } from './channels.ts';

const channel = essayChannels[process.env.CHANNEL_NAME!]!;

export const handler = guaranteedConsumer({
  channel,
  handle: async ({ orderId }) => {
    await new Promise((resolve) => setTimeout(resolve, SERVICE_WORK_MS));
    return { reply: { service: channel.name, orderId } };
  },
});
