import type { GuaranteedPolicy } from '../../lib/policy/index.ts';

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
