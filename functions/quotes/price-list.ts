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

/** A quote from one price list; an unknown product is an error the caller sees as a function error. */
export function quoteFrom(
  prices: Readonly<Record<string, number>>,
  source: 'live' | 'cached-price-list',
  { sku, quantity }: { sku: string; quantity: number },
) {
  const unitPriceCents = prices[sku];
  if (unitPriceCents === undefined) throw new Error(`no ${source === 'live' ? 'live' : 'cached'} price for ${sku}`);
  return { sku, quantity, unitPriceCents, totalCents: unitPriceCents * quantity, source };
}
