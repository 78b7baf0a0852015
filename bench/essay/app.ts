import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { Channel } from '../../lib/constructs/channel.ts';
import { Responder } from '../../lib/constructs/responder.ts';
import { StateTable } from '../../lib/constructs/state-table.ts';
import { OutputKey } from '../../lib/policy/index.ts';
import { essayChannels } from './channels.ts';

/** Three services, each deployed both ways, built with the template's own constructs. */
export function synthesizeEssay(outdir: string): string {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Essay');
  const stateTable = new StateTable(stack, 'State');
  new CfnOutput(stack, OutputKey.stateTableName, { key: OutputKey.stateTableName, value: stateTable.tableName });
  for (const definition of Object.values(essayChannels)) {
    if (definition.policy.kind === 'request-response') {
      const responder = new Responder(stack, definition.name, { definition, stateTable, primaryEntry: new URL('./responder.ts', import.meta.url).pathname });
      const key = OutputKey.primaryFunctionName(definition.name);
      new CfnOutput(stack, key, { key, value: responder.primary.functionName });
    } else {
      const channel = new Channel(stack, definition.name, { definition, stateTable, entry: new URL('./consumer.ts', import.meta.url).pathname });
      const key = OutputKey.queueUrl(definition.name);
      new CfnOutput(stack, key, { key, value: channel.queue.queueUrl });
    }
  }
  app.synth();
  return outdir;
}
