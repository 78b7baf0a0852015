export { createClient, MessagingClient, parseJson, SQS_MAX_MESSAGE_BYTES, type Acknowledgement, type AwaitReplyOptions, type ChannelCatalog, type ChannelNameOf, type ClientOptions, type MessageStatus, type SendOptions } from './client.ts';
export { discover, type Discovered, type DiscoveryOptions, type Target } from './discovery.ts';
export { requestWithFallback, type Answer, type RequestOptions } from './request.ts';
export { peekDeadLetters, redriveDeadLetters, purgeDeadLetters, queueDepth, type DeadLetter, type RedriveResult } from './dead-letters.ts';
export * from './errors.ts';
