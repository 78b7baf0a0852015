/**
 * npm run test:chaos — the long fault-injection run: 10,000 messages (CHAOS_MESSAGES to change) through a
 * guaranteed channel under transient faults, timeouts, crashes, poison and duplicates, then a redrive with the
 * faults off, and request-response with the tight default deadline (1000 ms). Prints the reconciliation table;
 * exits non-zero if anything was lost or applied twice, a notice applied after expiry or a request unanswered.
 */
import { formatChaosReport, runChaos } from './chaos/run.ts';

const report = await runChaos({
  messages: Number(process.env.CHAOS_MESSAGES ?? 10_000),
  notices: 500,
  requests: 300,
  log: (line) => console.error(`[chaos] ${line}`),
});
console.log(formatChaosReport(report));
// A request that missed its deadline was not answered (the SDK rejects at the deadline); over-deadline by wall clock is a figure only.
if (report.lost > 0 || report.appliedTwice > 0 || report.notices.appliedAfterExpiry > 0 || report.requests.answered < report.requests.sent) process.exit(1);
