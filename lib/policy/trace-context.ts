import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, trace, type Context, type SpanContext } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AWSXRayPropagator, AWSXRAY_TRACE_ID_HEADER } from '@opentelemetry/propagator-aws-xray';
import { MessageAttribute, type WireAttribute } from './wire.ts';

/**
 * How a message carries its trace across a queue or a topic: the W3C `traceparent` of the span that sent it, as one
 * message attribute (raw SNS delivery hands it on to each subscriber's queue). Its `tracestate` stays behind: an
 * eleventh attribute would push a sender's own into the DLQ copy's fold. A message sent by a producer this library did
 * not write may carry only the `AWSTraceHeader` system attribute SQS sets from X-Ray's header, outside the message's
 * size: read as X-Ray writes it. Only the OpenTelemetry API and its two propagators: no X-Ray SDK, nothing recorded
 * unless the application registers a tracer provider (the ADOT layer, or its own).
 */

const w3c = new W3CTraceContextPropagator();
const xray = new AWSXRayPropagator();

/** The attribute that carries a span's context to the message's consumer; none for a span with no valid context. */
export function traceAttributes(spanContext: SpanContext | undefined): Record<string, WireAttribute> {
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  const carrier: Record<string, string> = {};
  w3c.inject(trace.setSpanContext(ROOT_CONTEXT, spanContext), carrier, defaultTextMapSetter);
  return carrier.traceparent ? { [MessageAttribute.traceparent]: { DataType: 'String', StringValue: carrier.traceparent } } : {};
}

/** The attribute that carries the caller's active span, if it has one: what the SDK sends a message with. */
export function activeTraceAttributes(): Record<string, WireAttribute> {
  return traceAttributes(trace.getActiveSpan()?.spanContext());
}

/** The context a message was sent in: its `traceparent`, else the `AWSTraceHeader` SQS set; the root context when neither. */
export function sentContext(traceparent: string | undefined, awsTraceHeader: string | undefined): Context {
  if (traceparent) {
    const extracted = w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
    if (trace.getSpanContext(extracted)) return extracted;
  }
  if (awsTraceHeader) return xray.extract(ROOT_CONTEXT, { [AWSXRAY_TRACE_ID_HEADER]: awsTraceHeader }, defaultTextMapGetter);
  return ROOT_CONTEXT;
}
