export * from './types.ts';
export * from './errors.ts';
export { resolvePolicy, policyWithDefaults, minimumVisibility, SQS_MAX_RETENTION_SECONDS, SQS_MAX_VISIBILITY_SECONDS, SQS_MIN_RETENTION_SECONDS } from './resolve.ts';
export * from './channel.ts';
export * from './topic.ts';
export { check, onTheWire, parseMessage, type Checked, type OnTheWire, type ParseResult, type Schema } from './schema.ts';
export * from './wire.ts';
export { ALARM_LEAD_SECONDS, backoffSeconds, longestHealthyWaitSeconds, longestQueueLifeSeconds, longestReceiveSeconds } from './backoff.ts';
