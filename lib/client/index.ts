export {
  createClient,
  MessagingClient,
  parseJson,
  type Acknowledgement,
  type AwaitReplyOptions,
  type BatchOptions,
  type BatchResult,
  type CallOptions,
  type ChannelNameOf,
  type ClientOptions,
  type MessageStatus,
  type RejectedMessage,
  type SendOptions,
} from './client.ts';
export { discover, type AwsClientConfig, type Discovered, type DiscoveryOptions, type Target } from './discovery.ts';
export { requestWithFallback, type Answer, type RequestOptions } from './request.ts';
export {
  peekDeadLetters,
  previewRedrive,
  redriveDeadLetters,
  purgeDeadLetters,
  queueCounts,
  queueDepth,
  renderRedrivePreview,
  type DeadLetter,
  type RedrivePreview,
  type RedriveVerdict,
  type RedriveResult,
} from './dead-letters.ts';
export * from './errors.ts';
export { channelFor, encodePayload } from './checks.ts';
export { encodeEvent, topicFor, type EventOf, type Publication, type PublishBatchOptions, type PublishBatchResult, type PublishOptions } from './topics.ts';
export { SQS_MAX_MESSAGE_BYTES } from '../policy/index.ts';
export { channelStats, topicStats, type ChannelStats, type TopicStats } from './stats.ts';
export { renderTrace, timelineOf, traceMessage, type TraceEvent, type TraceNode } from './trace.ts';
