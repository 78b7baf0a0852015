import { responder } from '../../functions/runtime/index.ts';
import { syncChannels, SERVICE_WORK_MS } from './channels.ts';

const channel = syncChannels[process.env.CHANNEL_NAME!]!;

export const handler = responder({
  channel,
  role: 'primary',
  handle: async ({ orderId }) => {
    await new Promise((resolve) => setTimeout(resolve, SERVICE_WORK_MS));
    return { service: channel.name, orderId };
  },
});
