/** Unit prices in cents. The live responder's catalogue; the fallback answers from a cached copy of it. */
export const LIVE_PRICES_CENTS: Readonly<Record<string, number>> = {
  apple: 45,
  banana: 25,
  coffee: 1299,
  tea: 899,
  bread: 349,
};

/** Yesterday's list, as a fallback would hold it: possibly stale, always available. */
export const CACHED_PRICES_CENTS: Readonly<Record<string, number>> = {
  apple: 40,
  banana: 25,
  coffee: 1249,
  tea: 899,
  bread: 329,
};
