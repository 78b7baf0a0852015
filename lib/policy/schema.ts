import type { z } from 'zod';

/**
 * A message or reply schema: any zod schema, classic (`zod`) or mini (`zod/mini`). The runtime and the SDK check
 * values through the Standard Schema interface both implement, and import no schema library themselves, so a
 * handler's bundle carries only the zod its catalog imports (zod/mini keeps it small).
 */
export type Schema = z.core.$ZodType;

/**
 * The most issues a reason lists: a large payload can break its schema a million times, and reasons end up in DLQ
 * attributes, lifecycle records and one-line errors.
 */
const MAX_ISSUES_LISTED = 20;

export type Checked<T> = { readonly success: true; readonly data: T } | { readonly success: false; readonly issues: string };

/** Checks a value; the issues, when there are any, as one line: "items.0.quantity: Too small…; customerId: Required". */
export function check<S extends Schema>(schema: S, value: unknown): Checked<z.output<S>> {
  const result = schema['~standard'].validate(value);
  // A message is checked where it cannot wait: zod returns a promise only for async refinements.
  if (result instanceof Promise) throw new TypeError('schemas with asynchronous refinements are not supported: messages are checked synchronously');
  if (result.issues) {
    const issues = result.issues.map((issue) => `${issue.path?.length ? issue.path.map((step) => String(typeof step === 'object' ? step.key : step)).join('.') : '(root)'}: ${issue.message}`);
    const more = issues.length > MAX_ISSUES_LISTED ? `; and ${issues.length - MAX_ISSUES_LISTED} more` : '';
    return { success: false, issues: issues.slice(0, MAX_ISSUES_LISTED).join('; ') + more };
  }
  return { success: true, data: result.value as z.output<S> };
}

/** A value as it travels: its JSON text, and that text read back, which is what the other side checks and parses. */
export type OnTheWire = { readonly success: true; readonly json: string; readonly value: unknown } | { readonly success: false; readonly issues: string };

/**
 * A value ready to travel as a schema's input: messages, replies and answers go as JSON and are parsed by the schema on
 * the side that reads them. So the check is of the JSON read back, not of the value in memory: a value the schema
 * accepts only before JSON (a Date, a field left undefined) is refused where it is made, and a transform runs once,
 * where the value is read, never on a value already transformed.
 */
export function onTheWire(schema: Schema, value: unknown): OnTheWire {
  let json: string;
  try {
    json = JSON.stringify(value) ?? 'null';
  } catch (error) {
    return { success: false, issues: `(root): cannot be written as JSON: ${(error as Error).message}` };
  }
  const read = JSON.parse(json) as unknown;
  const checked = check(schema, read);
  return checked.success ? { success: true, json, value: read } : { success: false, issues: checked.issues };
}

export type ParseResult<T> = { readonly success: true; readonly payload: T } | { readonly success: false; readonly reason: string };

/**
 * Parses a message body and checks it against the channel's schema, turning either failure into a one-line reason:
 * what a consumer does with each message, and what a redrive preview does to tell which will fail again.
 */
export function parseMessage<S extends Schema>(schema: S, body: string): ParseResult<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return { success: false, reason: `invalid JSON: ${(error as Error).message}` };
  }
  const result = check(schema, json);
  if (!result.success) return { success: false, reason: `schema violation: ${result.issues}` };
  return { success: true, payload: result.data };
}
