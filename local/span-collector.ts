import { context, SpanKind, SpanStatusCode, trace, type AttributeValue } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';

/** A finished span as the local cloud keeps it: plain data, posted from a function's instance to the cloud. */
export interface CollectedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: 'consumer' | 'producer' | 'client' | 'server' | 'internal';
  /** Epoch milliseconds. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly status: 'unset' | 'ok' | 'error';
  readonly statusMessage?: string;
  readonly attributes: Readonly<Record<string, AttributeValue | undefined>>;
  /** The contexts it links to: a batch's span links each record's. */
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
  readonly functionName: string;
}

const KINDS: Record<SpanKind, CollectedSpan['kind']> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};
const STATUSES: Record<SpanStatusCode, CollectedSpan['status']> = { [SpanStatusCode.UNSET]: 'unset', [SpanStatusCode.OK]: 'ok', [SpanStatusCode.ERROR]: 'error' };

const millis = ([seconds, nanos]: readonly [number, number]) => seconds * 1000 + nanos / 1e6;

function collected(span: ReadableSpan, functionName: string): CollectedSpan {
  const { traceId, spanId } = span.spanContext();
  return {
    traceId,
    spanId,
    ...(span.parentSpanContext ? { parentSpanId: span.parentSpanContext.spanId } : {}),
    name: span.name,
    kind: KINDS[span.kind],
    startMs: millis(span.startTime),
    durationMs: millis(span.duration),
    status: STATUSES[span.status.code],
    ...(span.status.message ? { statusMessage: span.status.message } : {}),
    attributes: { ...span.attributes },
    links: span.links.map((link) => ({ traceId: link.context.traceId, spanId: link.context.spanId })),
    functionName,
  };
}

/**
 * Registers, in a function's instance, the tracer provider and context manager an ADOT layer would register in Lambda:
 * OpenTelemetry's own SDK, every span sampled, each finished span handed to `post` at once (the instance may be frozen right after its
 * handler answers). The function's bundle carries its own copy of the OpenTelemetry API, which finds this provider
 * where every copy of the API looks for it, on the global object.
 */
export function collectSpans(functionName: string, post: (spans: CollectedSpan[]) => void): void {
  const exporter = {
    export(spans: ReadableSpan[], done: (result: { code: 0 }) => void) {
      post(spans.map((span) => collected(span, functionName)));
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
  // The active span follows the handler's awaits, as it does under the ADOT layer's Node.js SDK.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}
