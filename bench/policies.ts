/**
 * npm run bench:policies — the essay's claim on the local cloud: a caller that needs three services, calling
 * them one after another synchronously, versus sending three asynchronous messages at once and collecting the
 * replies, polled and pushed. Each service does the same 150 ms of work either way. Prints wall times, their ratios,
 * and how long after its commit the caller held each reply.
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
const SLOW_ROUNDS = Math.ceil(ROUNDS / 2);
const SLOW_WORK_MS = 1000;
const stateDir = '.local-cloud/bench-policies';
const percentile = (values: number[], fraction: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * fraction))]!;
const median = (values: number[]) => percentile(values, 0.5);

// BENCH_IAM=off runs it without the local cloud's IAM gateways, to show what checking every call costs here.
const cloud = await startLocalCloud({ cdkOut: synthesizeEssay(`${stateDir}/cdk.out`), stateDir, iam: process.env.BENCH_IAM !== 'off' });
const clientWith = (replies: 'polled' | 'pushed') => createClient({ target: 'local', localStateDir: stateDir, stackName: 'Essay', channels: essayChannels, replies });
const clients = { polled: await clientWith('polled'), pushed: await clientWith('pushed') };
try {
  // From the record's completedAt (stamped as the commit is sent) to the caller holding the reply, per reply.
  const commitToSeen = { polled: [] as number[], pushed: [] as number[] };
  const slowCommitToSeen = { polled: [] as number[], pushed: [] as number[] };
  const synchronous = async () => {
    const orderId = randomUUID();
    for (const service of SERVICES) await clients.polled.request(`${service}Sync`, { orderId });
  };
  const asynchronous = (replies: 'polled' | 'pushed', seen?: number[], workMs?: number) => async () => {
    const client = clients[replies];
    const orderId = randomUUID();
    const acks = await Promise.all(SERVICES.map((service) => client.send(`${service}Async`, { orderId, workMs })));
    const seenAt = await Promise.all(acks.map(async (ack) => (await client.awaitReply(ack, { maxWaitTime: 30 }), Date.now())));
    // Read after the clock stopped: these reads are not part of the wall time.
    for (const [index, ack] of seen ? acks.entries() : []) {
      const [record] = await client.status(ack);
      seen!.push(seenAt[index]! - (record as { completedAt: number }).completedAt);
    }
  };
  // One warm-up round each, so cold starts (worker threads loading bundles) and the reply queue's creation are not counted.
  await synchronous();
  await asynchronous('polled')();
  await asynchronous('pushed')();

  const runs = [
    ['synchronous', synchronous],
    ['polled', asynchronous('polled', commitToSeen.polled)],
    ['pushed', asynchronous('pushed', commitToSeen.pushed)],
  ] as const;
  const timings = { synchronous: [] as number[], polled: [] as number[], pushed: [] as number[] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [name, run] of runs) {
      const started = performance.now();
      await run();
      timings[name].push(performance.now() - started);
    }
  }
  // The same services taking a second each: where a polled wait has spread its reads 400 and 800 ms apart.
  for (let round = 0; round < SLOW_ROUNDS; round += 1) {
    for (const replies of ['polled', 'pushed'] as const) await asynchronous(replies, slowCommitToSeen[replies], SLOW_WORK_MS)();
  }
  const sync = median(timings.synchronous);
  const row = (label: string, replies: 'polled' | 'pushed') => {
    const wall = median(timings[replies]);
    const seen = commitToSeen[replies];
    return `| ${label} | ${wall.toFixed(0)} ms | ${(sync / wall).toFixed(2)}× | ${percentile(seen, 0.5)} / ${percentile(seen, 0.99)} ms |`;
  };
  console.log(`| caller needing 3 services (${SERVICE_WORK_MS} ms of work each), median of ${ROUNDS} rounds | wall time | ratio (synchronous ÷ this) | commit → reply seen, p50 / p99 |`);
  console.log('|---|---|---|---|');
  console.log(`| synchronous: request → request → request | ${sync.toFixed(0)} ms | 1.00× | |`);
  console.log(row('asynchronous, replies polled: 3 guaranteed messages at once, records read 50 ms, 100 ms, … apart', 'polled'));
  console.log(row('asynchronous, replies pushed: the same, each reply read at its notice', 'pushed'));
  console.log('');
  console.log(`| the same services taking ${SLOW_WORK_MS} ms each, ${SLOW_ROUNDS} rounds | commit → reply seen, p50 / p99 |`);
  console.log('|---|---|');
  for (const replies of ['polled', 'pushed'] as const) {
    console.log(`| replies ${replies} | ${percentile(slowCommitToSeen[replies], 0.5)} / ${percentile(slowCommitToSeen[replies], 0.99)} ms |`);
  }
} finally {
  await Promise.all(Object.values(clients).map((client) => client.close()));
  await cloud.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
