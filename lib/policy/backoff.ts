import type { GuaranteedPolicy } from './types.ts';

/**
 * The visibility delay before a failed message's next attempt: base × 2^(attempt − 1), capped at
 * backoffMaxSeconds. Deterministic on purpose: the cap is the guarantee operators size alarms from, and
 * spreading retries out is already done by SQS's own per-message visibility clocks.
 */
export function backoffSeconds(
  policy: Pick<GuaranteedPolicy, 'backoffBaseSeconds' | 'backoffMaxSeconds'>,
  attempt: number,
): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2^31 already exceeds every cap SQS allows; stopping there keeps the arithmetic exact.
  const delay = policy.backoffBaseSeconds * 2 ** Math.min(exponent, 31);
  return Math.min(delay, policy.backoffMaxSeconds);
}

/**
 * The longest a healthy message can legitimately wait before it is applied: every backoff before its last
 * allowed attempt, plus one visibility timeout for an attempt that timed out. An older message means the
 * consumer is stuck or starved, which is what the age alarm reports.
 */
export function longestHealthyWaitSeconds(
  policy: Pick<GuaranteedPolicy, 'backoffBaseSeconds' | 'backoffMaxSeconds' | 'maxAttempts' | 'visibilityTimeoutSeconds'>,
): number {
  let total = policy.visibilityTimeoutSeconds;
  for (let attempt = 1; attempt < policy.maxAttempts; attempt += 1) total += backoffSeconds(policy, attempt);
  return total;
}
