/**
 * Polls `read` until `check` holds or the time is up; returns the last value either way so the assertion shows it.
 * The time is a ceiling against a hang, never a measure of speed: generous, as a machine with every core busy needs.
 */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    value = await read();
  }
  return value;
}
