import { responder } from '../../functions/runtime/index.ts';
import { chaosQuotes } from './channels.ts';

export const handler = responder({ channel: chaosQuotes, role: 'fallback', handle: async ({ id }) => ({ id, by: 'fallback' as const }) });
