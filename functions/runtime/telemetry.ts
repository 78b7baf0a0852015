import type { Context } from 'aws-lambda';
import { DEFAULT_METRICS_NAMESPACE, FunctionEnv } from '../../lib/policy/index.ts';

/**
 * Structured logs and EMF metrics in a few lines, where Powertools' Logger and Metrics cost 31 KiB of every bundle
 * and about 25 ms of every cold start (measured with `npm run bench:bundles`). Each log line is one JSON object on
 * stdout, as Powertools writes it, so Lambda's JSON log format keeps it whole; the counters go out as one CloudWatch
 * embedded-metric-format document per invocation.
 *
 * Settings: LOG_LEVEL (DEBUG, INFO, WARN, ERROR, SILENT; Lambda's own AWS_LAMBDA_LOG_LEVEL wins), METRICS_NAMESPACE
 * (FunctionEnv.metricsNamespace; 'DeliveryPolicies' when unset), METRICS_DISABLED=true.
 */

/**
 * The counters the runtime publishes: each consumer's outcomes, and a fallback responder's answers to callers whose
 * primary had failed or was abandoned (failover) or was only slow (hedge): what a fallback alarm counts, where
 * Lambda's invocations would count the hedged calls whose answers the caller threw away.
 */
export type ConsumerMetric = 'processed' | 'duplicates' | 'deadLettered' | 'expired' | 'failed' | 'dropped' | 'failoverAnswers' | 'hedgeAnswers';

/**
 * The highest of a value the runtime sees in an invocation: the age of the oldest guaranteed message it received,
 * in seconds. SQS's own ApproximateAgeOfOldestMessage leaves out messages received more than three times, which are
 * exactly those a retry keeps coming back; this one sees every message it receives.
 */
export type ConsumerGauge = 'oldestMessageAgeSeconds';

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const SEVERITY: Record<Level | 'SILENT', number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40, SILENT: 100 };

/** What a handler logs with. */
export interface Logger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
  /** A logger whose every line also carries `keys` (a message's id, its correlation id, its attempt). */
  child(keys: Record<string, unknown>): Logger;
}

export interface Telemetry {
  readonly logger: Logger;
  count(metric: ConsumerMetric): void;
  /** Keeps the highest value of the gauge seen in this invocation. */
  observe(gauge: ConsumerGauge, value: number): void;
  /** Keys every line of this invocation carries: the request id, and the function's name. */
  startInvocation(context: Pick<Context, 'awsRequestId' | 'functionName'> | undefined): void;
  /** Writes this invocation's counters, if any, and starts them over. */
  publishMetrics(): void;
}

export function createTelemetry(channel: string, keys: Record<string, unknown> = {}): Telemetry {
  const threshold = SEVERITY[levelFrom(process.env.AWS_LAMBDA_LOG_LEVEL ?? process.env.LOG_LEVEL)];
  const invocation: Record<string, unknown> = {};
  const counts = new Map<ConsumerMetric, number>();
  const gauges = new Map<ConsumerGauge, number>();

  const loggerWith = (own: Record<string, unknown>): Logger => {
    const write = (level: Level) => (message: string, extra?: Record<string, unknown>) => {
      if (SEVERITY[level] < threshold) return;
      const line = { level, message, timestamp: new Date().toISOString(), service: channel, ...keys, ...invocation, ...own, ...extra };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    };
    return { debug: write('DEBUG'), info: write('INFO'), warn: write('WARN'), error: write('ERROR'), child: (more) => loggerWith({ ...own, ...more }) };
  };

  return {
    logger: loggerWith({}),
    count: (metric) => counts.set(metric, (counts.get(metric) ?? 0) + 1),
    observe: (gauge, value) => gauges.set(gauge, Math.max(gauges.get(gauge) ?? value, value)),
    startInvocation: (context) => {
      if (!context) return;
      invocation.requestId = context.awsRequestId;
      invocation.functionName = context.functionName;
    },
    publishMetrics: () => {
      const published = counts.size + gauges.size > 0 && process.env.METRICS_DISABLED !== 'true';
      if (!published) return void (counts.clear(), gauges.clear());
      const metrics = [...[...counts.keys()].map((name) => ({ Name: name, Unit: 'Count' })), ...[...gauges.keys()].map((name) => ({ Name: name, Unit: 'Seconds' }))];
      const document = {
        _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: process.env[FunctionEnv.metricsNamespace] ?? DEFAULT_METRICS_NAMESPACE, Dimensions: [['service', 'channel']], Metrics: metrics }] },
        service: channel,
        channel,
        ...Object.fromEntries(counts),
        ...Object.fromEntries(gauges),
      };
      process.stdout.write(`${JSON.stringify(document)}\n`);
      counts.clear();
      gauges.clear();
    },
  };
}

function levelFrom(value: string | undefined): Level | 'SILENT' {
  const level = value?.toUpperCase();
  if (level === 'TRACE') return 'DEBUG';
  if (level === 'FATAL') return 'ERROR';
  return level && level in SEVERITY ? (level as Level | 'SILENT') : 'INFO';
}
