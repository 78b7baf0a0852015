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

/**
 * The longest a receive can keep a message hidden: a visibility timeout (an attempt that crashed or timed out), or an
 * attempt that ran its whole timeout after a batching window and then set the longest backoff, or (an outside effect)
 * stepped back for another delivery's whole lease.
 */
export function longestReceiveSeconds(
  policy: Pick<GuaranteedPolicy, 'visibilityTimeoutSeconds' | 'maxBatchingWindowSeconds' | 'timeoutSeconds' | 'backoffMaxSeconds' | 'leaseSeconds' | 'effect'>,
): number {
  const delayAfterAttempt = Math.max(policy.backoffMaxSeconds, policy.effect === 'outside' ? policy.leaseSeconds : 0);
  return Math.max(policy.visibilityTimeoutSeconds, policy.maxBatchingWindowSeconds + policy.timeoutSeconds + delayAfterAttempt);
}

/**
 * The longest a message can stay in its queue while the policy still lets it be received: every receive the queue's
 * redrive backstop allows, each as long as it can last. After it, the message is in the DLQ. Receives that run no
 * attempt (throttles, records held behind a failed one in their group, step-backs) count here, though not against
 * maxAttempts, which is why the bound is the backstop's and not the attempt budget's.
 */
export function longestQueueLifeSeconds(
  policy: Pick<GuaranteedPolicy, 'maxReceiveCount' | 'visibilityTimeoutSeconds' | 'maxBatchingWindowSeconds' | 'timeoutSeconds' | 'backoffMaxSeconds' | 'leaseSeconds' | 'effect'>,
): number {
  return policy.maxReceiveCount * longestReceiveSeconds(policy);
}

/**
 * How long before SQS's retention runs out the alarms must have fired: an hour for a person to act (redrive, fix the
 * consumer) before the queue deletes what is stuck, which it does without a DLQ copy.
 */
export const ALARM_LEAD_SECONDS = 3600;
