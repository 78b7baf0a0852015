import { App, Stack } from 'aws-cdk-lib';
import { ChannelCatalog } from '../../lib/constructs/index.ts';
import { essayChannels } from './channels.ts';

/** Three services, each deployed both ways, built with the template's own catalog. */
export function synthesizeEssay(outdir: string): string {
  const app = new App({ outdir });
  const consumer = new URL('./consumer.ts', import.meta.url).pathname;
  const responder = new URL('./responder.ts', import.meta.url).pathname;
  const entries = Object.fromEntries(
    Object.values(essayChannels).map((definition) => [definition.name, definition.policy.kind === 'request-response' ? { primary: responder } : consumer]),
  );
  new ChannelCatalog(new Stack(app, 'Essay'), 'Channels', { channels: essayChannels, entries });
  app.synth();
  return outdir;
}
