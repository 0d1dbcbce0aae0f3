/**
 * How the twin sets up and tears down its parts: started side by side, stopped in reverse order,
 * and a failure in one never leaves the others running.
 */

/** Undo steps run in reverse order of setup; each runs even if another fails. */
export class Cleanup {
  private readonly steps: (() => Promise<void>)[] = [];
  private running: Promise<void> | undefined;
  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }
  run(): Promise<void> {
    this.running ??= (async () => {
      const errors: unknown[] = [];
      for (const step of this.steps.reverse()) {
        try {
          await step();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'Some parts of the local twin failed to stop');
    })();
    return this.running;
  }
}

/** Like Promise.all, but rejects (with the first failure) only once every promise has settled. */
export async function allSettledOrThrow<T extends readonly unknown[]>(
  promises: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
