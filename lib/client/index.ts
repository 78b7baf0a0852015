export { createClient, MessagingClient, parseJson, type Acknowledgement, type AwaitReplyOptions, type ChannelNameOf, type ClientOptions, type MessageStatus, type SendOptions } from './client.ts';
export { discover, type Discovered, type DiscoveryOptions, type Target } from './discovery.ts';
export { requestWithFallback, type Answer, type RequestOptions } from './request.ts';
export { peekDeadLetters, redriveDeadLetters, purgeDeadLetters, queueDepth, type DeadLetter, type RedriveResult } from './dead-letters.ts';
export * from './errors.ts';
export { channelFor, encodePayload, SQS_MAX_MESSAGE_BYTES } from './checks.ts';
export { channelStats, type ChannelStats } from './stats.ts';
