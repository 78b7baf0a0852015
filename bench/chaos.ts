/**
 * npm run test:chaos — the long fault-injection run: 10,000 messages (CHAOS_MESSAGES to change) through a
 * guaranteed channel under transient faults, timeouts, crashes, poison and duplicates, then a redrive with the
 * faults off. Prints the reconciliation table; exits non-zero if anything was lost or applied twice.
 */
import { formatChaosReport, runChaos } from './chaos/run.ts';

const report = await runChaos({
  messages: Number(process.env.CHAOS_MESSAGES ?? 10_000),
  notices: 500,
  requests: 300,
  log: (line) => console.error(`[chaos] ${line}`),
});
console.log(formatChaosReport(report));
if (report.lost > 0 || report.appliedTwice > 0 || report.notices.appliedAfterExpiry > 0 || report.requests.overDeadline > 0) process.exit(1);
