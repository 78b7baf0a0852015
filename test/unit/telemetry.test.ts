import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTelemetry } from '../../functions/runtime/telemetry.ts';

/** What the telemetry wrote to stdout, one parsed JSON document per line. */
function captureStdout() {
  const lines: unknown[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(...String(chunk).trim().split('\n').map((line) => JSON.parse(line)));
    return true;
  });
  return lines;
}

describe('Function: createTelemetry', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('writes each log line as one JSON object with the channel, the invocation and the child keys', () => {
    vi.stubEnv('LOG_LEVEL', 'INFO');
    const lines = captureStdout();
    const telemetry = createTelemetry('orders', { role: 'primary' });
    telemetry.startInvocation({ awsRequestId: 'req-1', functionName: 'fn' });
    telemetry.logger.child({ correlationId: 'c-1' }).warn('attempt failed', { reason: 'boom' });
    telemetry.logger.debug('not shown at INFO');
    expect(lines).toStrictEqual([
      { level: 'WARN', message: 'attempt failed', timestamp: expect.any(String), service: 'orders', role: 'primary', requestId: 'req-1', functionName: 'fn', correlationId: 'c-1', reason: 'boom' },
    ]);
  });

  it("takes Lambda's own log level over LOG_LEVEL, and SILENT silences", () => {
    vi.stubEnv('LOG_LEVEL', 'DEBUG');
    vi.stubEnv('AWS_LAMBDA_LOG_LEVEL', 'ERROR');
    const lines = captureStdout();
    createTelemetry('orders').logger.warn('below ERROR');
    createTelemetry('orders').logger.error('at ERROR');
    vi.stubEnv('AWS_LAMBDA_LOG_LEVEL', 'SILENT');
    createTelemetry('orders').logger.error('silenced');
    expect(lines).toStrictEqual([expect.objectContaining({ level: 'ERROR', message: 'at ERROR' })]);
  });

  it('publishes one EMF document of the counts per invocation, and nothing when there are none', () => {
    vi.stubEnv('METRICS_DISABLED', 'false');
    const lines = captureStdout();
    const telemetry = createTelemetry('orders');
    telemetry.count('processed');
    telemetry.count('processed');
    telemetry.count('deadLettered');
    telemetry.observe('oldestMessageAgeSeconds', 12);
    telemetry.observe('oldestMessageAgeSeconds', 340);
    telemetry.observe('oldestMessageAgeSeconds', 40);
    telemetry.publishMetrics();
    telemetry.publishMetrics();
    expect(lines).toStrictEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [{ Namespace: 'DeliveryPolicies', Dimensions: [['service', 'channel']], Metrics: [{ Name: 'processed', Unit: 'Count' }, { Name: 'deadLettered', Unit: 'Count' }, { Name: 'oldestMessageAgeSeconds', Unit: 'Seconds' }] }],
        },
        service: 'orders',
        channel: 'orders',
        processed: 2,
        deadLettered: 1,
        oldestMessageAgeSeconds: 340,
      },
    ]);
  });
});
