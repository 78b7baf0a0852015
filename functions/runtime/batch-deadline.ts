/**
 * The moment a batch must answer Lambda: a margin before the function's own timeout. A batch that runs into the
 * timeout is lost whole (every record, successes included, comes back and uses a receive), so records still
 * running at this moment are reported failed and the rest of the batch keeps its outcomes.
 */
export class BatchDeadline {
  readonly #reached: Promise<'cut-off'>;
  #timer: NodeJS.Timeout | undefined;
  #passed = false;

  /** A tenth of the remaining time, at least 200 ms and at most 5 s: room to answer and to delete the batch. */
  public static forRemaining(remainingMs: number): BatchDeadline {
    const margin = Math.min(5000, Math.max(200, remainingMs * 0.1));
    return new BatchDeadline(Math.max(0, remainingMs - margin));
  }

  private constructor(inMs: number) {
    this.#reached = new Promise((resolve) => {
      this.#timer = setTimeout(() => {
        this.#passed = true;
        resolve('cut-off');
      }, inMs);
    });
  }

  public get passed(): boolean {
    return this.#passed;
  }

  /** The work's result, or 'cut-off' if the deadline comes first; the work itself goes on. */
  public race<T>(work: Promise<T>): Promise<T | 'cut-off'> {
    return Promise.race([work, this.#reached]);
  }

  public cancel(): void {
    clearTimeout(this.#timer);
  }
}
