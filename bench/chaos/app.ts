import { App, Stack } from 'aws-cdk-lib';
import { ChannelCatalog, type HandlerEntry } from '../../lib/constructs/index.ts';
import { chaosAnnounced, chaosChannels, chaosFlow, chaosLedger, chaosNotices, chaosQuotes, chaosShipping, chaosTopics, guaranteedChannels } from './channels.ts';

const here = (file: string) => new URL(`./${file}`, import.meta.url).pathname;

/**
 * The chaos application, built with the template's own catalog so the faults hit what users deploy: a guaranteed
 * channel of each kind (its handler in <kind>.ts), a topic whose subscriber sends on to a ledger, fire-and-forget
 * notices and request-response quotes.
 * `quotesDefinition` overrides the request-response channel's definition (same name, another deadline, see quotesChannel).
 */
export function synthesizeChaos(outdir: string, quotesDefinition: typeof chaosQuotes = chaosQuotes): string {
  const app = new App({ outdir });
  const entries: Record<string, HandlerEntry> = {
    ...Object.fromEntries(Object.entries(guaranteedChannels).map(([kind, definition]) => [definition.name, here(`${kind}.ts`)])),
    [chaosNotices.name]: here('notices.ts'),
    [chaosAnnounced.name]: here('announced.ts'),
    [chaosQuotes.name]: { primary: here('quotes-primary.ts'), fallback: here('quotes-fallback.ts') },
  };
  // What each handler reads and writes of the state table (faults.ts and effects.ts): the fault switch, its counters,
  // the FIFO groups' order lists, the deliveries an invocation gave up on, the notices.
  const guaranteed = { read: ['chaos#'], write: ['applied#', 'unfinished#'] };
  const stateAccess = {
    [guaranteedChannels.transactional.name]: guaranteed,
    [guaranteedChannels.outside.name]: guaranteed,
    [guaranteedChannels.fifo.name]: { read: guaranteed.read, write: [...guaranteed.write, 'group#'] },
    [chaosFlow.name]: guaranteed,
    [chaosLedger.name]: guaranteed,
    [chaosShipping.name]: guaranteed,
    [chaosAnnounced.name]: { write: ['applied#'] },
    [chaosNotices.name]: { write: ['notice#'] },
  };
  new ChannelCatalog(new Stack(app, 'Chaos'), 'Channels', {
    channels: { ...chaosChannels, chaosQuotes: quotesDefinition },
    topics: chaosTopics,
    entries,
    stateAccess,
    onward: { [chaosFlow.name]: { send: [chaosLedger.name] } },
  });
  app.synth();
  return outdir;
}
