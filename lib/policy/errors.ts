/** One violated rule of a channel's policy. */
export interface PolicyViolation {
  readonly field: string;
  readonly value: unknown;
  readonly rule: string;
}

/**
 * Thrown when a channel's policy would misbehave in AWS. Every violation is collected into one error so a
 * user fixes them all in one pass; each line names the channel, the field, the value and the rule.
 */
export class PolicyError extends Error {
  public readonly code = 'INVALID_POLICY';
  public readonly channel: string;
  public readonly violations: readonly PolicyViolation[];

  public constructor(channel: string, violations: readonly PolicyViolation[]) {
    super(violations.map((violation) => formatViolation(channel, violation)).join('\n'));
    this.name = 'PolicyError';
    this.channel = channel;
    this.violations = violations;
  }
}

/** "orders: visibilityTimeoutSeconds must be at least 6 × timeout + batching window (190), but 30 was provided" */
export function formatViolation(channel: string, { field, value, rule }: PolicyViolation): string {
  return `${channel}: ${field} ${rule}, but ${JSON.stringify(value)} was provided`;
}
