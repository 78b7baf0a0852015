import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import type { ChannelDefinition } from '../../lib/policy/index.ts';
import { InvalidMessageError } from './errors.ts';
import { describeIssues } from './parse.ts';
import { createTelemetry } from './telemetry.ts';

export interface ResponderOptions<Schema extends z.ZodType, ReplySchema extends z.ZodType> {
  readonly channel: ChannelDefinition<Schema, ReplySchema, 'request-response'>;
  /** Which of the channel's responders this function is, for logs. */
  readonly role: 'primary' | 'fallback';
  readonly handle: (request: z.infer<Schema>, context: { readonly logger: ReturnType<typeof createTelemetry>['logger'] }) => Promise<z.input<ReplySchema>>;
}

/**
 * A request-response responder: validates the request and the answer against the channel's schemas. Errors are
 * thrown, so the caller sees a function error and the SDK fails over to the fallback within the deadline.
 */
export function responder<Schema extends z.ZodType, ReplySchema extends z.ZodType>(options: ResponderOptions<Schema, ReplySchema>) {
  const telemetry = createTelemetry(options.channel.name);
  telemetry.logger.appendKeys({ role: options.role });
  return async (event: unknown, context?: Context): Promise<z.infer<ReplySchema>> => {
    if (context) telemetry.logger.addContext(context);
    const request = options.channel.schema.safeParse(event);
    if (!request.success) throw new InvalidMessageError(`${options.channel.name}: invalid request: ${describeIssues(request.error)}`);
    const answer = await options.handle(request.data, { logger: telemetry.logger });
    const reply = options.channel.replySchema.safeParse(answer);
    if (!reply.success) throw new Error(`${options.channel.name}: the ${options.role} responder broke its reply schema: ${describeIssues(reply.error)}`);
    return reply.data;
  };
}
