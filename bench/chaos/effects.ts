import { ChaosKeys } from './channels.ts';

/**
 * The update that counts one application of a message, with when it was first applied (for latency). An outside
 * effect also adds its own token, so that each application can be told apart from the others.
 */
export function countApplication(id: string, sentAt: number, effect?: string) {
  return {
    Key: ChaosKeys.applied(id),
    UpdateExpression: `ADD applied :one${effect ? ', effects :effect' : ''} SET firstAppliedAt = if_not_exists(firstAppliedAt, :now), sentAt = :sentAt`,
    ExpressionAttributeValues: { ':one': 1, ':now': Date.now(), ':sentAt': sentAt, ...(effect ? { ':effect': new Set([effect]) } : {}) },
  };
}
