/**
 * Records of a standard batch a consumer has in progress at once. A batch can hold up to 10,000 (with a batching
 * window); each record makes two or three DynamoDB calls in turn, and the SDK's client pools 50 sockets, so more at
 * once would only queue on sockets while their leases and the batch's deadline run.
 */
export const RECORDS_AT_ONCE = 16;

/**
 * Runs `run` on every item with at most `limit` in progress, and answers the results in the items' order; after a
 * failure it starts no more. A few lines rather than a dependency in every handler's bundle.
 */
export async function atMostAtOnce<Item, Result>(items: readonly Item[], limit: number, run: (item: Item) => Promise<Result>): Promise<Result[]> {
  const results: Result[] = [];
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await run(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
