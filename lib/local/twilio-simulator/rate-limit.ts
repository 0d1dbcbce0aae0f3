/** At most `limit` admissions per key within any rolling window of `windowMs`. */
export class SlidingWindowLimiter {
  readonly #admitted = new Map<string, number[]>();

  readonly limit: number;
  readonly windowMs: number;

  constructor(limit: number, windowMs = 1000) {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  tryAcquire(key: string, now = performance.now()): boolean {
    let times = this.#admitted.get(key);
    if (!times) {
      times = [];
      this.#admitted.set(key, times);
    }
    let expired = 0;
    while (expired < times.length && (times[expired] as number) <= now - this.windowMs) expired++;
    if (expired) times.splice(0, expired);
    if (times.length >= this.limit) return false;
    times.push(now);
    return true;
  }
}
