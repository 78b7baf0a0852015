import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** The counters every consumer publishes, one EMF document per invocation. */
export type ConsumerMetric = 'processed' | 'duplicates' | 'deadLettered' | 'expired' | 'failed' | 'dropped';

export interface Telemetry {
  readonly logger: Logger;
  readonly metrics: Metrics;
  count(metric: ConsumerMetric): void;
}

const NAMESPACE = 'DeliveryPolicies';

export function createTelemetry(channel: string): Telemetry {
  const logger = new Logger({ serviceName: channel });
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? NAMESPACE,
    serviceName: channel,
    defaultDimensions: { channel },
  });
  return {
    logger,
    metrics,
    count: (metric) => metrics.addMetric(metric, MetricUnit.Count, 1),
  };
}
