import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, DeadlineExceeded, NoAnswer, type MessagingClient } from '../../lib/client/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/index.ts';
import { synthesizeResponders } from '../fixtures/responders/app.ts';
import { flaky } from '../fixtures/responders/channel.ts';

const stateDir = `.local-cloud/rr-${randomUUID().slice(0, 8)}`;
let cloud: LocalCloud;
let client: MessagingClient;
/** The deadline is enforced by the caller: the answer comes within it, give or take the event loop's scheduling. */
const SCHEDULING_SLACK_MS = 150;

beforeAll(async () => {
  cloud = await startLocalCloud({ cdkOut: synthesizeResponders(`${stateDir}/cdk.out`), stateDir });
  client = await createClient({ target: 'local', localStateDir: stateDir, stackName: 'Responders', channels: { flaky } });
  // Warm one instance of each responder, as a running service would have.
  await client.request('flaky', { primary: 'answer', fallback: 'answer' });
  await client.request('flaky', { primary: 'throw', fallback: 'answer' });
});

afterAll(async () => {
  client?.destroy();
  await cloud?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('Function: request with a deadline and a fallback', () => {
  it('returns the primary answer when the primary answers', async () => {
    const result = await client.request('flaky', { primary: 'answer', fallback: 'answer' });
    expect(result).toMatchObject({ responder: 'primary', answer: { by: 'primary' } });
  });

  it('fails over to the fallback when the primary throws, within the deadline', async () => {
    const result = await client.request('flaky', { primary: 'throw', fallback: 'answer' });
    expect(result).toMatchObject({ responder: 'fallback', answer: { by: 'fallback' } });
    expect(result.elapsedMs).toBeLessThanOrEqual(1000 + SCHEDULING_SLACK_MS);
  });

  it('fails over to the fallback when the primary sleeps past the deadline, within the deadline', async () => {
    const result = await client.request('flaky', { primary: 'sleep', fallback: 'answer' });
    expect(result).toMatchObject({ responder: 'fallback', answer: { by: 'fallback' } });
    expect(result.elapsedMs).toBeLessThanOrEqual(1000 + SCHEDULING_SLACK_MS);
  });

  it('hedges: asks the fallback alongside a slow primary and takes the first answer', async () => {
    // Failover alone would ask the fallback only at 95 % of the deadline; an answer well before that came from the hedge at 10 %.
    const result = await client.request('flaky', { primary: 'sleep', fallback: 'answer' }, { hedgeAfterFraction: 0.1, failoverAfterFraction: 0.95 });
    expect(result).toMatchObject({ responder: 'fallback', answer: { by: 'fallback' } });
    expect(result.elapsedMs).toBeLessThan(950);
  });

  it('says NoAnswer, with what each responder did, when both fail', async () => {
    const failure = await client.request('flaky', { primary: 'throw', fallback: 'throw' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(NoAnswer);
    expect((failure as NoAnswer).attempts).toStrictEqual([
      { responder: 'primary', outcome: expect.stringMatching(/function error: Error: primary is down/) },
      { responder: 'fallback', outcome: expect.stringMatching(/function error: Error: fallback is down too/) },
    ]);
  });

  it('throws DeadlineExceeded at the deadline when no one answers in time', async () => {
    const started = Date.now();
    const failure = await client.request('flaky', { primary: 'sleep', fallback: 'sleep' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeadlineExceeded);
    expect((failure as DeadlineExceeded).code).toBe('DEADLINE_EXCEEDED');
    expect((failure as DeadlineExceeded).attempts).toStrictEqual([
      { responder: 'primary', outcome: 'abandoned as too slow' },
      { responder: 'fallback', outcome: 'still running' },
    ]);
    expect(Date.now() - started).toBeLessThanOrEqual(1000 + SCHEDULING_SLACK_MS);
  });

  it('rejects a request that breaks the schema before invoking anything', async () => {
    await expect(client.request('flaky', { primary: 'dance' })).rejects.toThrow(/flaky: the payload breaks the channel's schema/);
  });
});
