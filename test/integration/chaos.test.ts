import { describe, expect, it } from 'vitest';
import { sharedDynamoDb } from '../helpers/shared-dynamodb.ts';
import { CHAOS_PHASES, chaosViolations, formatChaosReport, runChaos, type ChaosReport } from '../../bench/chaos/run.ts';

// The short run of the fault-injection suite (npm run test:chaos is the long one, 10,000 messages per kind): a few
// dozen messages per kind with faults several times as frequent as the long run's, so that each kind meets crashes,
// stalls, poison and duplicates; the model-based test (runtime-model.test.ts) explores the schedules in depth.
describe('Chaos: 30 messages per guaranteed kind and through a three-hop flow, under transient faults, timeouts, crashes, poison and duplicates', () => {
  let report: ChaosReport;

  it('loses nothing, repeats nothing outside a crash window, explains every dead letter, keeps FIFO order', { timeout: 300_000 }, async () => {
    // A generous request deadline (npm run test:chaos keeps the tight 1000 ms): this short run must not fail on how
    // fast a busy machine starts an instance. The primary still stalls past it, so failover is exercised.
    const common = { messages: 30, mix: { transient: 0.25, slow: 0.02, crash: 0.05 }, poison: 0.05, duplicates: 0.05 };
    // The flow runs after the other kinds, not beside them: all at once on two cores, the 1 s consumers timed out
    // batch after batch until SQS's receive backstop moved messages unexplained, which is load, not the runtime.
    const kinds = await runChaos({ ...common, phases: CHAOS_PHASES.filter((phase) => phase !== 'flow'), notices: 20, requests: 10, requestDeadlineMs: 5000, sharedDynamoDb: sharedDynamoDb('chaos') });
    const flow = await runChaos({ ...common, phases: ['flow'], sharedDynamoDb: sharedDynamoDb('chaos-flow') });
    report = { ...kinds, guaranteed: [...kinds.guaranteed, ...flow.guaranteed], announced: flow.announced, wallSeconds: kinds.wallSeconds + flow.wallSeconds };
    console.log(formatChaosReport(report));
    expect(chaosViolations(report)).toEqual([]);
  });

  it('covers every guaranteed kind and sees faults in each', () => {
    expect(report.guaranteed.map((channel) => channel.kind)).toEqual(['transactional', 'outside', 'fifo', 'flow', 'shipping', 'ledger']);
    // The ledger's messages are sent on by the flow's subscriber, never poison; they meet the faults all the same.
    for (const channel of report.guaranteed.filter(({ kind }) => kind !== 'ledger')) expect(channel.poison, channel.kind).toBeGreaterThan(0);
  });

  it('dead-letters every poison message with its reason', () => {
    for (const channel of report.guaranteed) expect(channel.poisonDeadLettered, channel.kind).toBe(channel.poison);
  });

  it("delivers the flow's events to its fire-and-forget subscriber too", () => {
    // Fire-and-forget promises nothing under faults; this subscriber meets none, so every event reaches it.
    expect(report.announced?.delivered).toBe(report.announced?.published);
  });

  it('never applies a fire-and-forget notice after its expiry', () => {
    expect(report.notices?.appliedAfterExpiry).toBe(0);
    expect(report.notices?.expiredApplied).toBe(0);
  });

  it('answers every request within its deadline though the primary fails half its calls', () => {
    // The wall-clock figures (overDeadline, maxElapsedMs) are in the printed report only.
    expect(report.requests?.answered).toBe(report.requests?.sent);
  });
});
