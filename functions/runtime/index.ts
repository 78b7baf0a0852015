export { GuaranteedConsumer, guaranteedConsumer, type GuaranteedConsumerOptions } from './guaranteed-consumer.ts';
export {
  FireAndForgetConsumer,
  fireAndForgetConsumer,
  type FireAndForgetConsumerOptions,
  type ExpiringMessageContext,
} from './fire-and-forget-consumer.ts';
export { responder, type ResponderOptions } from './responder.ts';
export { LifecycleStore, MAX_HISTORY_EVENTS, type AttemptRecord, type MessageIdentity } from './lifecycle-store.ts';
export { backoffSeconds, parseMessage } from '../../lib/policy/index.ts';
export { endpointsFromEnv, defaultClients, type ChannelEndpoints, type ConsumerClients } from './config.ts';
export { policyFromEnv } from './deployment.ts';
export { ConsumerRuntimeError, PermanentError, InvalidMessageError, ConsumerConfigurationError, permanentDynamoFailure } from './errors.ts';
export type { BatchResponse, HandlerOutcome, MessageContext, TransactWrite } from './types.ts';
export type { ConsumerMetric, Logger } from './telemetry.ts';
