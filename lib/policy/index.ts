export * from './types.ts';
export * from './errors.ts';
export { resolvePolicy, minimumVisibility, SQS_MAX_RETENTION_SECONDS, SQS_MAX_VISIBILITY_SECONDS, SQS_MIN_RETENTION_SECONDS } from './resolve.ts';
export * from './channel.ts';
export { check, type Checked, type Schema } from './schema.ts';
export * from './wire.ts';
export { backoffSeconds, longestHealthyWaitSeconds } from './backoff.ts';
