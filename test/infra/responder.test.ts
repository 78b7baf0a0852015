import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { responderStack } from './helpers.ts';

describe('Responder', () => {
  it.each([
    [1500, 2],
    [3000, 3],
    [100, 1],
  ])('sizes a %i ms deadline into %i s function timeouts for the primary and the fallback', (deadlineMs, seconds) => {
    const { template } = responderStack('quotes', { kind: 'request-response', deadlineMs });
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.allResourcesProperties('AWS::Lambda::Function', { Timeout: seconds, Runtime: 'nodejs22.x' });
  });

  it('deploys no fallback when the policy has none', () => {
    const { template, responder } = responderStack('quotes', { kind: 'request-response', fallback: false }, { fallback: false });
    template.resourceCountIs('AWS::Lambda::Function', 1);
    expect(responder.fallback).toBeUndefined();
  });

  it('needs a fallback entry when the policy has a fallback', () => {
    expect(() => responderStack('quotes', { kind: 'request-response', fallback: true }, { fallback: false })).toThrow(
      /quotes: fallbackEntry must be given when the policy has fallback: true/,
    );
  });

  it('gives responders no queue and no grants beyond their logs', () => {
    const { template } = responderStack('quotes', { kind: 'request-response' });
    template.resourceCountIs('AWS::SQS::Queue', 0);
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.allResourcesProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: Match.absent() });
  });

  it('refuses a queue-backed definition', () => {
    expect(() => responderStack('orders', { kind: 'guaranteed' })).toThrow(/orders: a guaranteed channel is deployed with Channel, not Responder/);
  });
});
