/**
 * The send rate a broadcast reached once it was going: the ramp-up (fan-out, cold starts, the first
 * batching window) and the tail (the last few re-queued sends) say little about the rate control,
 * so they are left out.
 */
export interface SteadyRate {
  /** Messages per second between the two cut points. */
  readonly ratePerSecond: number;
  /** Cut points, in ms since the first acceptance. */
  readonly fromMs: number;
  readonly toMs: number;
  /** Messages accepted between the cut points. */
  readonly messages: number;
  /** The median of the whole seconds inside the cut points, as a cross-check of the rate. */
  readonly medianPerSecond: number;
  readonly method: string;
}

/**
 * The rate over the middle of the messages: from the acceptance time of the message at the
 * `trim` quantile to the one at 1 - `trim` (by default the 10th and 90th percentiles, so 80 % of
 * the messages), that many messages divided by the time between them.
 */
export function steadyRate(acceptedAtMs: readonly number[], trim = 0.1): SteadyRate {
  const times = [...acceptedAtMs].sort((a, b) => a - b);
  const method = `messages between the ${pct(trim)} and ${pct(1 - trim)} acceptance times ÷ the time between them`;
  if (times.length < 2)
    return { ratePerSecond: 0, fromMs: 0, toMs: 0, messages: times.length, medianPerSecond: 0, method };
  const origin = times[0] as number;
  const first = Math.floor((times.length - 1) * trim);
  const last = Math.ceil((times.length - 1) * (1 - trim));
  const from = times[first] as number;
  const to = times[last] as number;
  const messages = last - first;
  const ratePerSecond = to > from ? messages / ((to - from) / 1000) : 0;
  const perSecond = perSecondCounts(times, origin);
  const inside = perSecond.filter(
    (_, second) => second * 1000 >= from - origin && (second + 1) * 1000 <= to - origin,
  );
  return {
    ratePerSecond,
    fromMs: from - origin,
    toMs: to - origin,
    messages,
    medianPerSecond: median(inside),
    method,
  };
}

/** How many of `times` fall in each whole second after `origin` (second 0 first), gaps as zeros. */
export function perSecondCounts(times: readonly number[], origin: number, seconds?: number): number[] {
  const latest = times.reduce((max, t) => Math.max(max, t), origin);
  const length = seconds ?? Math.floor((latest - origin) / 1000) + 1;
  const counts: number[] = Array.from({ length }, () => 0);
  for (const t of times) {
    const second = Math.floor((t - origin) / 1000);
    if (second >= 0 && second < length) counts[second] = (counts[second] as number) + 1;
  }
  return counts;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const pct = (q: number) => `${Math.round(q * 100)}th percentile`;
