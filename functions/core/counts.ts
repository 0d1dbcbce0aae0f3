import { IN_FLIGHT, RECIPIENT_STATUSES, type RecipientStatus } from './statuses.ts';

/** Recipients per status. Always carries every status as a key (API.md's counts invariant). */
export type StatusCounts = Record<RecipientStatus, number>;

export function emptyCounts(): StatusCounts {
  const counts = {} as StatusCounts;
  for (const s of RECIPIENT_STATUSES) counts[s] = 0;
  return counts;
}

/**
 * A full counts object from a partial one (a store item, a shard): missing keys become 0, and
 * keys that are not statuses are dropped.
 */
export function toCounts(partial: Partial<Record<string, number>> | undefined): StatusCounts {
  const counts = emptyCounts();
  if (!partial) return counts;
  for (const s of RECIPIENT_STATUSES) {
    const v = partial[s];
    if (typeof v === 'number' && Number.isFinite(v)) counts[s] = v;
  }
  return counts;
}

/** a + b, key by key, as a new object (shards summed on read, deltas applied). */
export function addCounts(a: Partial<StatusCounts>, b: Partial<StatusCounts>): StatusCounts {
  const counts = emptyCounts();
  for (const s of RECIPIENT_STATUSES) counts[s] = (a[s] ?? 0) + (b[s] ?? 0);
  return counts;
}

/** The sum of many counts objects (e.g. the broadcast's counter shards). */
export function sumCounts(list: Iterable<Partial<StatusCounts>>): StatusCounts {
  let total = emptyCounts();
  for (const c of list) total = addCounts(total, c);
  return total;
}

/** The counter change of one recipient moving from `from` to `to`: `{ [from]: -1, [to]: +1 }`. */
export function moveDelta(from: RecipientStatus, to: RecipientStatus): Partial<StatusCounts> {
  if (from === to) return {};
  return { [from]: -1, [to]: 1 };
}

export function totalOf(counts: Partial<StatusCounts>): number {
  let total = 0;
  for (const s of RECIPIENT_STATUSES) total += counts[s] ?? 0;
  return total;
}

export interface Progress {
  /** Recipients no longer pending/queued/sending. */
  processedCount: number;
  /** The rest of `total`. */
  pendingCount: number;
  /** floor(100 × processed / total), 0–100; 0 when total is 0. */
  progressPct: number;
}

/** API.md progress arithmetic. `total` is the broadcast's `totalRecipients`. */
export function progressOf(counts: Partial<StatusCounts>, total: number): Progress {
  let processed = 0;
  for (const s of RECIPIENT_STATUSES) if (!IN_FLIGHT.includes(s)) processed += counts[s] ?? 0;
  const safeTotal = Math.max(0, total);
  processed = Math.min(Math.max(0, processed), safeTotal);
  const pct = safeTotal === 0 ? 0 : Math.floor((100 * processed) / safeTotal);
  return {
    processedCount: processed,
    pendingCount: safeTotal - processed,
    progressPct: Math.min(100, Math.max(0, pct)),
  };
}

/**
 * A broadcast's counts as the API shows them, from its counter totals (core/count-deltas.ts):
 * `pending` is what no counter holds yet (chunks not handed to the send queue), so the counts always
 * add up to `totalRecipients`. A cancelled broadcast's recipients that were never sent (pending, and
 * queued ones whose tasks the send consumer drops) are shown as what they are: `cancelled`.
 */
export function displayCounts(
  broadcast: { readonly totalRecipients: number; readonly status: string },
  statuses: Partial<Record<RecipientStatus, number>>,
): StatusCounts {
  const counts = emptyCounts();
  let counted = 0;
  for (const s of RECIPIENT_STATUSES) {
    if (s === 'pending') continue;
    counts[s] = Math.max(0, statuses[s] ?? 0);
    counted += counts[s];
  }
  counts.pending = Math.max(0, broadcast.totalRecipients - counted);
  if (broadcast.status === 'cancelled') {
    counts.cancelled += counts.pending + counts.queued;
    counts.pending = 0;
    counts.queued = 0;
  }
  return counts;
}
