import { App, Stack } from 'aws-cdk-lib';
import { ChannelCatalog } from 'delivery-policies/constructs';
import { channels, topics } from '../lib/channels.ts';

const app = new App();
const stack = new Stack(app, 'App', { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } });
// Every channel of lib/channels.ts, its handler from functions/<name>/; alarms, dashboard and outputs included.
// stateAccess: the items of the state table each consumer may write (by key prefix), and nothing else of it.
// onward: what each consumer sends on; tasks publishes taskCreated, which digest, assignment and ticker subscribe to.
new ChannelCatalog(stack, 'Channels', {
  channels,
  topics,
  stateAccess: { tasks: { write: ['task#'] }, digest: { write: ['digest#'] }, ticker: { write: ['ticker#'] } },
  onward: { tasks: { publish: ['taskCreated'] } },
});
