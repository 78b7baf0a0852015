import type { Context } from 'aws-lambda';
import { FunctionEnv } from '../../lib/policy/index.ts';

/**
 * Structured logs and EMF metrics in a few lines, where Powertools' Logger and Metrics cost 31 KiB of every bundle
 * and about 25 ms of every cold start (measured with `npm run bench:bundles`). Each log line is one JSON object on
 * stdout, as Powertools writes it, so Lambda's JSON log format keeps it whole; the counters go out as one CloudWatch
 * embedded-metric-format document per invocation.
 *
 * Settings: LOG_LEVEL (DEBUG, INFO, WARN, ERROR, SILENT; Lambda's own AWS_LAMBDA_LOG_LEVEL wins), METRICS_NAMESPACE
 * (FunctionEnv.metricsNamespace; 'DeliveryPolicies' when unset), METRICS_DISABLED=true.
 */

/** The counters every consumer publishes. */
export type ConsumerMetric = 'processed' | 'duplicates' | 'deadLettered' | 'expired' | 'failed' | 'dropped';

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
  /** Keys every line of this invocation carries: the request id, and the function's name. */
  startInvocation(context: Pick<Context, 'awsRequestId' | 'functionName'> | undefined): void;
  /** Writes this invocation's counters, if any, and starts them over. */
  publishMetrics(): void;
}

export function createTelemetry(channel: string, keys: Record<string, unknown> = {}): Telemetry {
  const threshold = SEVERITY[levelFrom(process.env.AWS_LAMBDA_LOG_LEVEL ?? process.env.LOG_LEVEL)];
  const invocation: Record<string, unknown> = {};
  const counts = new Map<ConsumerMetric, number>();

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
    startInvocation: (context) => {
      if (!context) return;
      invocation.requestId = context.awsRequestId;
      invocation.functionName = context.functionName;
    },
    publishMetrics: () => {
      if (counts.size === 0 || process.env.METRICS_DISABLED === 'true') return counts.clear();
      const metrics = [...counts.keys()].map((name) => ({ Name: name, Unit: 'Count' }));
      const document = {
        _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: process.env[FunctionEnv.metricsNamespace] ?? 'DeliveryPolicies', Dimensions: [['service', 'channel']], Metrics: metrics }] },
        service: channel,
        channel,
        ...Object.fromEntries(counts),
      };
      process.stdout.write(`${JSON.stringify(document)}\n`);
      counts.clear();
    },
  };
}

function levelFrom(value: string | undefined): Level | 'SILENT' {
  const level = value?.toUpperCase();
  if (level === 'TRACE') return 'DEBUG';
  if (level === 'FATAL') return 'ERROR';
  return level && level in SEVERITY ? (level as Level | 'SILENT') : 'INFO';
}
