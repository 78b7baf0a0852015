import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { Channel } from '../../lib/constructs/channel.ts';
import { Responder } from '../../lib/constructs/responder.ts';
import { StateTable } from '../../lib/constructs/state-table.ts';
import { OutputKey } from '../../lib/policy/index.ts';
import { chaosNotices, chaosQuotes, guaranteedChannels } from './channels.ts';

const here = (file: string) => new URL(`./${file}`, import.meta.url).pathname;

/**
 * The chaos application, built with the template's own constructs so the faults hit what users deploy: a guaranteed
 * channel of each kind (its handler in <kind>.ts), fire-and-forget notices and request-response quotes.
 * `quotesDefinition` overrides the request-response channel's definition (same name, another deadline, see quotesChannel).
 */
export function synthesizeChaos(outdir: string, quotesDefinition: typeof chaosQuotes = chaosQuotes): string {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Chaos');
  const stateTable = new StateTable(stack, 'State');
  const outputs: Record<string, string> = { [OutputKey.stateTableName]: stateTable.tableName };
  for (const [kind, definition] of Object.entries(guaranteedChannels)) {
    const channel = new Channel(stack, definition.name, { definition, stateTable, entry: here(`${kind}.ts`) });
    outputs[OutputKey.queueUrl(definition.name)] = channel.queue.queueUrl;
    outputs[OutputKey.deadLetterQueueUrl(definition.name)] = channel.deadLetterQueue!.queueUrl;
  }
  const notices = new Channel(stack, 'Notices', { definition: chaosNotices, stateTable, entry: here('notices.ts') });
  const quotes = new Responder(stack, 'Quotes', { definition: quotesDefinition, stateTable, primaryEntry: here('quotes-primary.ts'), fallbackEntry: here('quotes-fallback.ts') });
  outputs[OutputKey.queueUrl(chaosNotices.name)] = notices.queue.queueUrl;
  outputs[OutputKey.primaryFunctionName(chaosQuotes.name)] = quotes.primary.functionName;
  outputs[OutputKey.fallbackFunctionName(chaosQuotes.name)] = quotes.fallback!.functionName;
  for (const [key, value] of Object.entries(outputs)) new CfnOutput(stack, key, { key, value });
  app.synth();
  return outdir;
}
