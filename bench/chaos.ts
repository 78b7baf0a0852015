/**
 * npm run test:chaos — the long fault-injection run: CHAOS_MESSAGES (10,000) messages through a guaranteed channel
 * of each kind (transactional, outside, FIFO) under transient faults, stalls past the timeout, crashes, poison and
 * duplicates, then a redrive with the faults off; fire-and-forget notices; request-response with the tight default
 * deadline (1000 ms). Knobs: CHAOS_MESSAGES, CHAOS_TRANSIENT, CHAOS_SLOW, CHAOS_CRASH, CHAOS_POISON,
 * CHAOS_DUPLICATES, CHAOS_CHANNELS (a comma list of phases). Prints the reconciliation table; exits 1 on any
 * violation, 2 on a bad knob.
 */
import { z } from 'zod';
import { CHAOS_PHASES, chaosViolations, DEFAULT_DUPLICATES, DEFAULT_MIX, DEFAULT_POISON, formatChaosReport, runChaos } from './chaos/run.ts';

const share = (fallback: number) => z.coerce.number().min(0).max(1).default(fallback);
const knobs = z.object({
  CHAOS_MESSAGES: z.coerce.number().int().min(1).default(10_000),
  CHAOS_TRANSIENT: share(DEFAULT_MIX.transient),
  CHAOS_SLOW: share(DEFAULT_MIX.slow),
  CHAOS_CRASH: share(DEFAULT_MIX.crash),
  CHAOS_POISON: share(DEFAULT_POISON),
  CHAOS_DUPLICATES: share(DEFAULT_DUPLICATES),
  CHAOS_CHANNELS: z
    .string()
    .default(CHAOS_PHASES.join(','))
    .transform((list) => list.split(',').map((phase) => phase.trim()))
    .pipe(z.array(z.enum(CHAOS_PHASES)).min(1)),
});

const parsed = knobs.safeParse(process.env);
if (!parsed.success) {
  const issue = parsed.error.issues[0]!;
  const knob = String(issue.path[0]);
  console.error(`test:chaos: ${knob}=${process.env[knob]} is invalid: ${issue.message}`);
  process.exit(2);
}
const env = parsed.data;
const report = await runChaos({
  messages: env.CHAOS_MESSAGES,
  phases: env.CHAOS_CHANNELS,
  mix: { transient: env.CHAOS_TRANSIENT, slow: env.CHAOS_SLOW, crash: env.CHAOS_CRASH },
  poison: env.CHAOS_POISON,
  duplicates: env.CHAOS_DUPLICATES,
  notices: 500,
  requests: 300,
  log: (line) => console.error(`[chaos] ${line}`),
});
console.log(formatChaosReport(report));
const violations = chaosViolations(report);
for (const violation of violations) console.error(`[chaos] violation: ${violation}`);
if (violations.length > 0) process.exit(1);
