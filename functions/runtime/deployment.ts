import { FunctionEnv, PolicyError, resolvePolicy, type ChannelDefinition, type DeliveryPolicy, type PolicyInput } from '../../lib/policy/index.ts';
import { ConsumerConfigurationError } from './errors.ts';

// Apart from config.ts, which imports the AWS SDK: a responder checks its deployment too, and loads no SDK at all.

/**
 * The deployed policy, as the construct serialised it. It wins over the catalog's copy so that a function
 * always obeys what was deployed next to it (retention, receive count), even mid-rollout. It is checked as the
 * synth checked it, and the function must have been deployed for this handler's channel: a handler wired to
 * another channel's queue would record its messages under the wrong name and keys.
 */
export function policyFromEnv(channel: ChannelDefinition, env: NodeJS.ProcessEnv = process.env): DeliveryPolicy {
  const deployedFor = env[FunctionEnv.channelName];
  if (deployedFor !== undefined && deployedFor !== channel.name) {
    throw new ConsumerConfigurationError(`this function was deployed for channel ${deployedFor} but its handler serves ${channel.name}`);
  }
  const raw = env[FunctionEnv.channelPolicy];
  if (!raw) return channel.policy;
  const deployed = deployedPolicy(channel.name, raw);
  if (deployed.kind !== channel.policy.kind) {
    throw new ConsumerConfigurationError(`deployed policy is ${deployed.kind} but the handler serves a ${channel.policy.kind} channel`);
  }
  return deployed;
}

function deployedPolicy(channel: string, raw: string): DeliveryPolicy {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConsumerConfigurationError(`${FunctionEnv.channelPolicy} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new ConsumerConfigurationError(`${FunctionEnv.channelPolicy} is not a policy object`);
  try {
    return resolvePolicy(channel, parsed as PolicyInput);
  } catch (error) {
    if (error instanceof PolicyError) throw new ConsumerConfigurationError(`${FunctionEnv.channelPolicy}: ${error.message}`, { cause: error });
    throw error;
  }
}
