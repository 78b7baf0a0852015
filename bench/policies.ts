/**
 * npm run bench:policies — the essay's claim on the local cloud: a caller that needs three services, calling
 * them one after another synchronously, versus sending three asynchronous messages at once and collecting the
 * replies. Each service does the same 150 ms of work either way. Prints wall times and their ratio.
 *
 *   BENCH_ROUNDS=20 [BENCH_IAM=off] npm run bench:policies
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createClient } from '../lib/client/index.ts';
import { startLocalCloud } from '../local/index.ts';
import { synthesizeEssay } from './essay/app.ts';
import { essayChannels, SERVICE_WORK_MS, SERVICES } from './essay/channels.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const stateDir = '.local-cloud/bench-policies';
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// BENCH_IAM=off runs it without the local cloud's IAM gateways, to show what checking every call costs here.
const cloud = await startLocalCloud({ cdkOut: synthesizeEssay(`${stateDir}/cdk.out`), stateDir, iam: process.env.BENCH_IAM !== 'off' });
const client = await createClient({ target: 'local', localStateDir: stateDir, stackName: 'Essay', channels: essayChannels });
try {
  const synchronous = async () => {
    const orderId = randomUUID();
    for (const service of SERVICES) await client.request(`${service}Sync`, { orderId });
  };
  const asynchronous = async () => {
    const orderId = randomUUID();
    const acks = await Promise.all(SERVICES.map((service) => client.send(`${service}Async`, { orderId })));
    await Promise.all(acks.map((ack) => client.awaitReply(ack.correlationId, { maxWaitTime: 30 })));
  };
  // One warm-up round each, so cold starts (worker threads loading bundles) are not counted.
  await synchronous();
  await asynchronous();

  const timings = { synchronous: [] as number[], asynchronous: [] as number[] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [name, run] of [['synchronous', synchronous], ['asynchronous', asynchronous]] as const) {
      const started = performance.now();
      await run();
      timings[name].push(performance.now() - started);
    }
  }
  const sync = median(timings.synchronous);
  const async_ = median(timings.asynchronous);
  console.log(`| caller needing 3 services (${SERVICE_WORK_MS} ms of work each), median of ${ROUNDS} rounds | wall time |`);
  console.log('|---|---|');
  console.log(`| synchronous: request → request → request | ${sync.toFixed(0)} ms |`);
  console.log(`| asynchronous: 3 guaranteed messages at once, replies collected | ${async_.toFixed(0)} ms |`);
  console.log(`| ratio (synchronous ÷ asynchronous) | ${(sync / async_).toFixed(2)}× |`);
} finally {
  client.destroy();
  await cloud.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
