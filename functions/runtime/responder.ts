import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { AskedAs, check, onTheWire, type ChannelDefinition, type Schema as AnySchema } from '../../lib/policy/index.ts';
import { policyFromEnv } from './deployment.ts';
import { InvalidMessageError } from './errors.ts';
import { createTelemetry, type Logger } from './telemetry.ts';

export interface ResponderOptions<Schema extends AnySchema, ReplySchema extends AnySchema> {
  readonly channel: ChannelDefinition<Schema, ReplySchema, 'request-response'>;
  /** Which of the channel's responders this function is, for logs. */
  readonly role: 'primary' | 'fallback';
  readonly handle: (request: z.output<Schema>, context: { readonly logger: Logger }) => Promise<z.input<ReplySchema>>;
}

/**
 * A request-response responder: validates the request and the answer against the channel's schemas. Errors are
 * thrown, so the caller sees a function error and the SDK fails over to the fallback within the deadline.
 */
export function responder<Schema extends AnySchema, ReplySchema extends AnySchema>(options: ResponderOptions<Schema, ReplySchema>) {
  // Checked once, at INIT: a responder deployed for another channel or under a broken policy must not answer.
  policyFromEnv(options.channel);
  const telemetry = createTelemetry(options.channel.name, { role: options.role });
  return async (event: unknown, context?: Context): Promise<z.input<ReplySchema>> => {
    telemetry.startInvocation(context);
    const request = check(options.channel.schema, event);
    if (!request.success) throw new InvalidMessageError(`${options.channel.name}: invalid request: ${request.issues}`);
    const answer = await options.handle(request.data, { logger: telemetry.logger });
    // The answer goes as the reply schema's input: the caller's SDK parses it, so a transform runs once, there.
    const reply = onTheWire(options.channel.replySchema, answer);
    if (!reply.success) throw new Error(`${options.channel.name}: the ${options.role} responder broke its reply schema: ${reply.issues}`);
    const askedAs = (context?.clientContext?.custom as Record<string, unknown> | undefined)?.[AskedAs.key];
    if (options.role === 'fallback' && (askedAs === AskedAs.failover || askedAs === AskedAs.hedge)) {
      telemetry.count(askedAs === AskedAs.failover ? 'failoverAnswers' : 'hedgeAnswers');
      telemetry.publishMetrics();
    }
    return reply.value as z.input<ReplySchema>;
  };
}
