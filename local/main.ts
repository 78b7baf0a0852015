/**
 * `msg local` (`npm start` here): runs the synthesized application on this machine until Ctrl-C. Prints one
 * screen with the endpoints, resources and the environment to export for the AWS CLI and SDKs.
 */
import { startLocalCloud, type LocalCloud } from './index.ts';
import { LOCAL_CREDENTIALS } from './emulators.ts';

function screen(cloud: LocalCloud): string {
  const lines = [
    `Local cloud ready in ${(cloud.startupMs / 1000).toFixed(1)} s (no Docker, no AWS account)`,
    '',
    'Endpoints',
    `  SQS       ${cloud.endpoints.sqs}`,
    `  DynamoDB  ${cloud.endpoints.dynamodb}`,
    `  Lambda    ${cloud.endpoints.lambda}`,
    '',
    'Queues',
    ...cloud.queues.map((queue) => `  ${queue.name}`),
    'Tables',
    ...cloud.tables.map((table) => `  ${table.name}`),
    'Functions',
    ...[...cloud.functions.values()].map((fn) => `  ${fn.props.name}  (timeout ${fn.props.timeoutSeconds} s, ${fn.props.memorySizeMb} MB)`),
    '',
    'Not emulated (skipped)',
    ...cloud.skipped.map((line) => `  ${line}`),
    '',
    'Use it from a shell:',
    `  export AWS_ENDPOINT_URL_SQS=${cloud.endpoints.sqs} AWS_ENDPOINT_URL_DYNAMODB=${cloud.endpoints.dynamodb} AWS_ENDPOINT_URL_LAMBDA=${cloud.endpoints.lambda}`,
    `  export AWS_REGION=${cloud.endpoints.region} AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey}`,
    '  Outputs: .local-cloud/outputs.json    Endpoints: .local-cloud/endpoints.json',
    '',
    'Ctrl-C stops everything.',
  ];
  return lines.join('\n');
}

/** Starts the local cloud for the app in the working directory and serves until SIGINT or SIGTERM. */
export async function serveLocalCloud(options: { readonly showFunctionLogs: boolean }): Promise<void> {
  const cloud = await startLocalCloud(options);
  console.log(screen(cloud));
  let stopping = false;
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (stopping) return;
        stopping = true;
        console.log(`\n${signal}: stopping the local cloud…`);
        void cloud.stop().then(resolve);
      });
    }
  });
}
