/**
 * `msg local` (`npm start` here): runs the synthesized application on this machine until Ctrl-C. Prints one
 * screen with the endpoints, resources and the environment to export for the AWS CLI and SDKs.
 */
import { join, relative, resolve } from 'node:path';
import { createClient } from '../lib/client/index.ts';
import { startConsole, type LocalConsole } from '../lib/console/server.ts';
import type { Catalog, TopicCatalog } from '../lib/policy/index.ts';
import { startLocalCloud, type Denial, type LocalCloud, type LocalCloudOptions } from './index.ts';
import { validateDeferred } from './synth.ts';

function screen(cloud: LocalCloud, stateDir: string, showFunctionLogs: boolean, localConsole: LocalConsole | undefined): string {
  const lines = [
    `Local cloud ready in ${(cloud.startupMs / 1000).toFixed(1)} s (no Docker, no AWS account)`,
    '',
    ...(localConsole ? [`Console   ${localConsole.url}`, '          (this start\'s token is in the URL; the console answers nothing without it)', ''] : []),
    'Endpoints',
    `  SQS       ${cloud.endpoints.sqs}`,
    `  SNS       ${cloud.endpoints.sns}`,
    `  DynamoDB  ${cloud.endpoints.dynamodb}`,
    `  Lambda    ${cloud.endpoints.lambda}`,
    '',
    'Queues',
    ...cloud.queues.map((queue) => `  ${queue.name}`),
    ...(cloud.topics.length > 0 ? ['Topics', ...cloud.topics.map((topic) => `  ${topic.name}`)] : []),
    'Tables',
    ...cloud.tables.map((table) => `  ${table.name}`),
    'Functions',
    ...[...cloud.functions.values()].map((fn) => `  ${fn.props.name}  (timeout ${fn.props.timeoutSeconds} s, ${fn.props.memorySizeMb} MB)`),
    '',
    'Not emulated (skipped)',
    ...cloud.skipped.map((line) => `  ${line}`),
    '',
    cloud.iam.enforced
      ? "IAM: each function's SQS, SNS, DynamoDB and Lambda calls are checked against its role (--no-iam turns this off)"
      : 'IAM: not enforced (--no-iam)',
    ...cloud.iam.exceptions.map((line) => `  not checked: ${line}`),
    '',
    'Use it from a shell:',
    `  export AWS_ENDPOINT_URL_SQS=${cloud.endpoints.sqs} AWS_ENDPOINT_URL_SNS=${cloud.endpoints.sns}`,
    `  export AWS_ENDPOINT_URL_DYNAMODB=${cloud.endpoints.dynamodb} AWS_ENDPOINT_URL_LAMBDA=${cloud.endpoints.lambda}`,
    `  export AWS_REGION=${cloud.endpoints.region} AWS_DEFAULT_REGION=${cloud.endpoints.region} AWS_ACCESS_KEY_ID=${cloud.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${cloud.credentials.secretAccessKey}`,
    `  Outputs: ${join(stateDir, 'outputs.json')}    Endpoints: ${join(stateDir, 'endpoints.json')}`,
    `  Function logs: ${showFunctionLogs ? 'shown here' : 'hidden (msg local --logs, or npm start -- --logs, shows them)'}`,
    '',
    'Ctrl-C stops everything.',
  ];
  return lines.join('\n');
}

/**
 * Starts the local cloud for the app in the working directory and serves until it is told to stop: SIGINT, SIGTERM
 * or SIGHUP, or the end of the process that started it. `npm start` runs this under a shell that a SIGTERM to npm
 * ends without passing the signal on; the cloud, orphaned, then notices its parent is gone and stops too, so no
 * emulator outlives it and no endpoints.json is left for a live cloud.
 */
export async function serveLocalCloud(
  options: LocalCloudOptions & {
    readonly showFunctionLogs: boolean;
    readonly watch?: boolean;
    /** The console's catalog and port; none: no console. */
    readonly console?: { readonly channels: Catalog; readonly topics: TopicCatalog; readonly port: number; readonly anyPortIfTaken: boolean };
  },
): Promise<void> {
  const parent = process.ppid;
  // A refused call fails inside the function, where its error may be caught or lost among the logs: said here too.
  const onDenied = (denial: Denial) =>
    console.error(`[local-cloud] ${denial.functionName} was refused ${denial.action} on ${denial.resource}: ${denial.why}. To allow it: ${denial.grant}`);
  // The console shows each message's spans: the functions record them while it is served.
  // CDK's CloudFormation validation waits until the cloud is up: it concerns a deploy, and took a quarter of a first start.
  const cloud = await startLocalCloud({ ...options, onDenied, collectSpans: options.console !== undefined, deferValidation: true });
  const stateDir = options.stateDir ?? '.local-cloud';
  const consoleClient = options.console
    ? await createClient({ channels: options.console.channels, topics: options.console.topics, target: 'local', localStateDir: stateDir })
    : undefined;
  const localConsole = consoleClient ? await startConsole({ client: consoleClient, cloud, port: options.console!.port, anyPortIfTaken: options.console!.anyPortIfTaken }) : undefined;
  console.log(screen(cloud, relative(process.cwd(), resolve(stateDir)) || '.', options.showFunctionLogs, localConsole));
  if (!options.cdkOut) {
    validateDeferred(resolve(options.appDir ?? '.'), join(resolve(stateDir), 'cdk.out'))
      .catch((error: unknown) => `its validation could not run: ${(error as Error).message}`)
      .then((problem) => {
        if (problem) console.error(`[local-cloud] this app runs here, but cdk synth and a deploy would refuse it: ${problem}`);
      });
  }
  const watching = options.watch ? watchSources(cloud) : undefined;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      clearInterval(orphanCheck);
      if (watching) clearInterval(watching);
      console.log(`\n${why}: stopping the local cloud…`);
      void Promise.all([localConsole?.close(), consoleClient?.destroy()])
        .then(() => cloud.stop())
        .then(resolve);
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
    const orphanCheck = setInterval(() => {
      if (process.ppid !== parent) stop('the process that started it has exited');
    }, 500);
  });
}

/**
 * --watch: reloads once a second. A reload does nothing unless the app's sources changed (the same key that decides
 * whether a start may skip the synth: polling a few files costs less than watching a tree that holds node_modules);
 * when they did, changed handlers run their new code at once, with queues, tables and messages kept.
 */
function watchSources(cloud: LocalCloud): NodeJS.Timeout {
  let reloading = false;
  return setInterval(() => {
    if (reloading) return;
    reloading = true;
    cloud
      .reload()
      .then(({ resynthesized, updated, restartNeeded }) => {
        if (!resynthesized) return;
        console.log(`sources changed: ${updated.length > 0 ? `running new code: ${updated.join(', ')}` : 'no function changed'}`);
        if (restartNeeded.length > 0) console.log(`restart to apply the other changes, to: ${restartNeeded.join(', ')}`);
      })
      .catch((error: unknown) => console.error(`not reloaded: ${(error as Error).message}`))
      .finally(() => (reloading = false));
  }, 1000);
}
