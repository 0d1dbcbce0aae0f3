type Falsy = undefined | false | null;

export interface WaitForOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Pause between checks (default 25 ms). */
  intervalMs?: number;
  /** Error message when the deadline passes. */
  message?: string;
}

/**
 * Polls `check` until it returns a truthy value and resolves with it; throws with
 * `message` (and the last error `check` threw, if any) once `timeoutMs` has passed.
 */
export async function waitFor<T>(
  check: () => T | Falsy | Promise<T | Falsy>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const base = options.message ?? `Condition not met within ${timeoutMs} ms`;
      const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`${base}${cause}`, lastError ? { cause: lastError } : undefined);
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))),
    );
  }
}
