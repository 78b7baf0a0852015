import { z } from 'zod';
import { describe, expect, it, vi } from 'vitest';
import { ConsumerConfigurationError, policyFromEnv, responder } from '../../functions/runtime/index.ts';
import { defineChannel, FunctionEnv } from '../../lib/policy/index.ts';

const orders = defineChannel('orders', { policy: { kind: 'guaranteed', timeoutSeconds: 10 }, schema: z.object({ id: z.string() }) });
const presence = defineChannel('presence', { policy: { kind: 'fire-and-forget', timeToLiveSeconds: 30 }, schema: z.object({ id: z.string() }) });

function deployed(channel: string, policy: unknown): NodeJS.ProcessEnv {
  return { [FunctionEnv.channelName]: channel, [FunctionEnv.channelPolicy]: typeof policy === 'string' ? policy : JSON.stringify(policy) };
}

describe('Function: policyFromEnv', () => {
  it('reads back the policy the construct deployed, as resolved at synth', () => {
    expect(policyFromEnv(orders, deployed('orders', orders.policy))).toStrictEqual(orders.policy);
    expect(policyFromEnv(presence, deployed('presence', presence.policy))).toStrictEqual(presence.policy);
    expect(policyFromEnv(orders, {})).toBe(orders.policy);
  });

  it('obeys the deployed policy over the catalog copy', () => {
    expect(policyFromEnv(orders, deployed('orders', { ...orders.policy, maxAttempts: 3 }))).toMatchObject({ maxAttempts: 3 });
  });

  it('refuses a function deployed for another channel', () => {
    expect(() => policyFromEnv(orders, deployed('payments', orders.policy))).toThrow(
      new ConsumerConfigurationError('this function was deployed for channel payments but its handler serves orders'),
    );
  });

  it('keeps a responder deployed for another channel from answering', () => {
    const quotes = defineChannel('quotes', { policy: { kind: 'request-response', deadlineMs: 1000 }, schema: z.object({ id: z.string() }), replySchema: z.number() });
    vi.stubEnv(FunctionEnv.channelName, 'prices');
    expect(() => responder({ channel: quotes, role: 'primary', handle: async () => 1 })).toThrow(ConsumerConfigurationError);
  });

  it('refuses a deployed policy that breaks a rule, naming the field and the rule', () => {
    const broken = deployed('orders', { ...orders.policy, visibilityTimeoutSeconds: 30 });
    expect(() => policyFromEnv(orders, broken)).toThrow(ConsumerConfigurationError);
    expect(() => policyFromEnv(orders, broken)).toThrow(/^CHANNEL_POLICY: orders: visibilityTimeoutSeconds must be at least 6 × timeout/);
  });

  it('refuses a deployed policy that is not a policy', () => {
    expect(() => policyFromEnv(orders, deployed('orders', '{"kind":'))).toThrow(new ConsumerConfigurationError('CHANNEL_POLICY is not JSON'));
    expect(() => policyFromEnv(orders, deployed('orders', '42'))).toThrow(new ConsumerConfigurationError('CHANNEL_POLICY is not a policy object'));
    expect(() => policyFromEnv(orders, deployed('orders', { kind: 'carrier-pigeon' }))).toThrow(/^CHANNEL_POLICY: orders: kind must be/);
    expect(() => policyFromEnv(orders, deployed('orders', presence.policy))).toThrow(
      new ConsumerConfigurationError('deployed policy is fire-and-forget but the handler serves a guaranteed channel'),
    );
  });
});
