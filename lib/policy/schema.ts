import type { z } from 'zod';

/**
 * A message or reply schema: any zod schema, classic (`zod`) or mini (`zod/mini`). The runtime and the SDK check
 * values through the Standard Schema interface both implement, and import no schema library themselves, so a
 * handler's bundle carries only the zod its catalog imports (zod/mini keeps it small).
 */
export type Schema = z.core.$ZodType;

export type Checked<T> = { readonly success: true; readonly data: T } | { readonly success: false; readonly issues: string };

/** Checks a value; the issues, when there are any, as one line: "items.0.quantity: Too small…; customerId: Required". */
export function check<S extends Schema>(schema: S, value: unknown): Checked<z.output<S>> {
  const result = schema['~standard'].validate(value);
  // A message is checked where it cannot wait: zod returns a promise only for async refinements.
  if (result instanceof Promise) throw new TypeError('schemas with asynchronous refinements are not supported: messages are checked synchronously');
  if (result.issues) {
    const issues = result.issues.map((issue) => `${issue.path?.length ? issue.path.map((step) => String(typeof step === 'object' ? step.key : step)).join('.') : '(root)'}: ${issue.message}`);
    return { success: false, issues: issues.join('; ') };
  }
  return { success: true, data: result.value as z.output<S> };
}
