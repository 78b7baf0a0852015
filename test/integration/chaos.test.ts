import { describe, expect, it } from 'vitest';
import { formatChaosReport, runChaos, type ChaosReport } from '../../bench/chaos/run.ts';

// The short run of the fault-injection suite (npm run test:chaos is the long one, 10,000 messages).
describe('Chaos: 500 messages under transient faults, timeouts, crashes, poison and duplicates', () => {
  let report: ChaosReport;

  it('loses nothing and applies nothing twice, before and after the redrive', { timeout: 300_000 }, async () => {
    // A generous request deadline (npm run test:chaos keeps the tight 1000 ms): this short run must not fail on how
    // fast a busy machine starts an instance. The primary still stalls past it, so failover is exercised.
    report = await runChaos({ messages: 500, notices: 100, requests: 40, requestDeadlineMs: 5000 });
    console.log(formatChaosReport(report));
    expect(report.lost).toBe(0);
    expect(report.appliedTwice).toBe(0);
    expect(report.appliedOnceBeforeRedrive + report.deadLettered).toBeGreaterThanOrEqual(report.sent);
  });

  it('dead-letters every poison message with its reason', () => {
    expect(report.poisonDeadLettered).toBe(report.poison);
  });

  it('never applies a fire-and-forget notice after its expiry', () => {
    expect(report.notices.appliedAfterExpiry).toBe(0);
    expect(report.notices.expiredApplied).toBe(0);
  });

  it('answers every request within its deadline though the primary fails half its calls', () => {
    // An answer is proof of time: past the deadline the SDK rejects with DeadlineExceeded instead. The wall-clock
    // figures (overDeadline, maxElapsedMs) are in the printed report only.
    expect(report.requests.answered).toBe(report.requests.sent);
  });
});
