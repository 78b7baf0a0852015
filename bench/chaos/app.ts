import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { Channel } from '../../lib/constructs/channel.ts';
import { Responder } from '../../lib/constructs/responder.ts';
import { StateTable } from '../../lib/constructs/state-table.ts';
import { OutputKey } from '../../lib/policy/index.ts';
import { chaos, chaosNotices, chaosQuotes } from './channels.ts';

const here = (file: string) => new URL(`./${file}`, import.meta.url).pathname;

/**
 * The chaos application, built with the template's own constructs so the faults hit what users deploy.
 * `quotesDefinition` overrides the request-response channel's definition (same name, another deadline, see quotesChannel).
 */
export function synthesizeChaos(outdir: string, quotesDefinition: typeof chaosQuotes = chaosQuotes): string {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Chaos');
  const stateTable = new StateTable(stack, 'State');
  const guaranteed = new Channel(stack, 'Guaranteed', { definition: chaos, stateTable, entry: here('consumer.ts') });
  const notices = new Channel(stack, 'Notices', { definition: chaosNotices, stateTable, entry: here('notices.ts') });
  const quotes = new Responder(stack, 'Quotes', { definition: quotesDefinition, stateTable, primaryEntry: here('quotes-primary.ts'), fallbackEntry: here('quotes-fallback.ts') });
  const outputs: Record<string, string> = {
    [OutputKey.stateTableName]: stateTable.tableName,
    [OutputKey.queueUrl('chaos')]: guaranteed.queue.queueUrl,
    [OutputKey.deadLetterQueueUrl('chaos')]: guaranteed.deadLetterQueue!.queueUrl,
    [OutputKey.queueUrl('chaosNotices')]: notices.queue.queueUrl,
    [OutputKey.primaryFunctionName('chaosQuotes')]: quotes.primary.functionName,
    [OutputKey.fallbackFunctionName('chaosQuotes')]: quotes.fallback!.functionName,
  };
  for (const [key, value] of Object.entries(outputs)) new CfnOutput(stack, key, { key, value });
  app.synth();
  return outdir;
}
