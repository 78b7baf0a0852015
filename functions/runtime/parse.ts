import { check, type Schema } from '../../lib/policy/index.ts';
import type { z } from 'zod';

export type ParseResult<T> = { readonly success: true; readonly payload: T } | { readonly success: false; readonly reason: string };

/** Parses a message body and checks it against the channel's schema, turning either failure into a one-line reason. */
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
