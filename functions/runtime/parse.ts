import type { z } from 'zod';

export type ParseResult<T> = { readonly success: true; readonly payload: T } | { readonly success: false; readonly reason: string };

/** Parses a message body and checks it against the channel's schema, turning either failure into a one-line reason. */
export function parseMessage<Schema extends z.ZodType>(schema: Schema, body: string): ParseResult<z.infer<Schema>> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return { success: false, reason: `invalid JSON: ${(error as Error).message}` };
  }
  const result = schema.safeParse(json);
  if (!result.success) return { success: false, reason: `schema violation: ${describeIssues(result.error)}` };
  return { success: true, payload: result.data };
}

/** "items.0.quantity: Too small: expected number to be >0; customerId: Required" */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`).join('; ');
}
