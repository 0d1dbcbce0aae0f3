/**
 * What one recipient's change adds to its broadcast's counters (DESIGN.md "Counters").
 *
 * Counts are not written with each status move. Every recipient write is a single conditional
 * update of the recipient's ledger item; a DynamoDB Streams aggregator (functions/aggregate-counts.ts)
 * turns each change (the item before and after) into counter deltas and applies a whole batch of them
 * at once. The rule is one function: a recipient *contributes* to the counters by what it is now
 * (its status, its current error code, a pending retry, its follow-up's status, its confirmation), and
 * a change adds `contribution(after) − contribution(before)`. Summed over every change of every
 * recipient, the counters are exactly the contributions of the recipients as they are: duplicates,
 * reordering and crashes cannot make them drift, because only changes that really happened reach the
 * stream.
 *
 * A recipient item is first written when it is claimed for sending (or when the fan-out writes it as
 * `skipped`): until then it is counted `queued` by the fan-out (its chunk's entries were added to
 * `c_queued` when the chunk was handed to the send queue). So an item that appears for the first time
 * arrives from `queued`. An item that disappears (TTL expiry of old data) changes no count: retention
 * does not rewrite history.
 */
import { RECIPIENT_STATUSES, type RecipientStatus, SUCCEEDED } from './statuses.ts';

/**
 * How long the stream aggregator's event source gathers a batch (its maximum batching window): the
 * counts trail the ledger by about this much, plus a batch's own time. 1 s, not 2: an admin sees a
 * broadcast counted as sent about a second sooner, for one more counter write per broadcast shard
 * per second (0.23 write units per recipient instead of 0.16 at 80/s, about $0.04 per million
 * recipients; measured in the bench's cost scenario, 2026-12-02).
 */
export const COUNTS_BATCH_WINDOW_SECONDS = 1;

/**
 * The oldest stream record the aggregator still takes (its event source's MaximumRecordAgeInSeconds);
 * older ones go to the on-failure queue. So no change older than this can still reach the counters.
 */
export const STREAM_MAX_RECORD_AGE_SECONDS = 600;

/**
 * How long a broadcast's recipients must all have stood still before the sweeper recounts it from
 * them: past the stream's record age, no change they made can still be on its way to the counters
 * (a recount that raced one would count it twice).
 */
export const RECOUNT_QUIET_SECONDS = STREAM_MAX_RECORD_AGE_SECONDS + 300;

/**
 * The counter fields: `c_<status>`, `e_<error code>`, `r_pending`, `w_<wait reason>` (recipients
 * waiting, core/send-timing.ts), `f_<follow-up status>`, `f_confirmed`.
 */
export type CounterDeltas = Record<string, number>;

/** The part of a recipient item the counters read (a DynamoDB stream image, unmarshalled). */
export interface CountedImage {
  readonly status?: string;
  readonly errorCode?: number | string;
  readonly nextRetryAt?: string;
  /** With nextRetryAt: a recipient that waits (quiet hours, the messaging limit), not a retry. */
  readonly waitReason?: string;
  readonly confirmedAt?: string;
  readonly followUp?: { readonly status?: string };
}

/** What the stream says happened to one recipient item. */
export interface RecipientChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly oldImage?: CountedImage;
  readonly newImage?: CountedImage;
}

/** The statuses whose recipients carry their error code in `e_<code>`. */
const FAILING: readonly string[] = ['failed', 'undelivered'];

/** Before its first write, a recipient is counted by the fan-out as queued. */
const NOT_WRITTEN_YET: CountedImage = { status: 'queued' };

/** The counters one recipient contributes as it is. */
export function contribution(image: CountedImage): CounterDeltas {
  const fields: CounterDeltas = {};
  const status = image.status;
  if (status && (RECIPIENT_STATUSES as readonly string[]).includes(status)) fields[`c_${status}`] = 1;
  if (status && FAILING.includes(status) && image.errorCode !== undefined && image.errorCode !== '')
    fields[`e_${image.errorCode}`] = 1;
  if (image.nextRetryAt) {
    if (image.waitReason) fields[`w_${image.waitReason}`] = 1;
    else fields.r_pending = 1;
  }
  if (image.confirmedAt) fields.f_confirmed = 1;
  if (image.followUp?.status) fields[`f_${image.followUp.status}`] = 1;
  return fields;
}

/** `contribution(after) − contribution(before)`, zero entries left out. */
export function deltasOf(change: RecipientChange): CounterDeltas {
  if (change.eventName === 'REMOVE' || !change.newImage) return {};
  const before = contribution(change.eventName === 'INSERT' ? NOT_WRITTEN_YET : (change.oldImage ?? {}));
  const after = contribution(change.newImage);
  const deltas: CounterDeltas = {};
  for (const [field, value] of Object.entries(after)) deltas[field] = value - (before[field] ?? 0);
  for (const [field, value] of Object.entries(before)) if (!(field in after)) deltas[field] = -value;
  for (const field of Object.keys(deltas)) if (deltas[field] === 0) delete deltas[field];
  return deltas;
}

/**
 * What a shard's counter item must hold for these recipients as they are now: every written
 * recipient's change from `queued` (the fan-out counted it there). The recount's reference.
 */
export function ledgerCounts(recipients: Iterable<CountedImage>): CounterDeltas {
  const counts: CounterDeltas = {};
  for (const image of recipients) addDeltas(counts, deltasOf({ eventName: 'INSERT', newImage: image }));
  return counts;
}

/** The counter fields (`c_`, `e_`, `f_`, `r_pending`) of `held` that differ from `expected`: expected − held. */
export function countCorrection(
  expected: CounterDeltas,
  held: Readonly<Record<string, unknown>>,
): CounterDeltas {
  const correction: CounterDeltas = { ...expected };
  for (const [field, value] of Object.entries(held))
    if (/^(c_|e_|f_|w_)/.test(field) || field === 'r_pending')
      addDeltas(correction, { [field]: -Number(value) || 0 });
  return correction;
}

/** Adds `more` into `into` (mutating it); zero entries removed. */
export function addDeltas(into: CounterDeltas, more: CounterDeltas): CounterDeltas {
  for (const [field, value] of Object.entries(more)) {
    const sum = (into[field] ?? 0) + value;
    if (sum === 0) delete into[field];
    else into[field] = sum;
  }
  return into;
}

/**
 * The tenant activity a change is (for `/v1/metrics`'s sentLast5m and failedLast5m): `sent` when a
 * recipient reaches sent or beyond for the first time in an attempt, `failed` when it becomes failed
 * or undelivered.
 */
export function activityOf(change: RecipientChange): 'sent' | 'failed' | undefined {
  if (change.eventName === 'REMOVE' || !change.newImage) return undefined;
  const before = (change.eventName === 'INSERT' ? NOT_WRITTEN_YET : change.oldImage)?.status;
  const after = change.newImage.status;
  if (!after || after === before) return undefined;
  const succeeded = (s: string | undefined) => SUCCEEDED.includes(s as RecipientStatus);
  if (succeeded(after) && !succeeded(before)) return 'sent';
  if (FAILING.includes(after) && !FAILING.includes(before ?? '')) return 'failed';
  return undefined;
}

/** Summed counter fields, split by kind (the read side of the counters). */
export interface CounterTotals {
  /** Recipients per status, `pending` not included (it is derived from the total). */
  readonly statuses: Partial<Record<RecipientStatus, number>>;
  /** Recipients currently failed or undelivered, per provider error code. */
  readonly errors: Record<string, number>;
  readonly retriesPending: number;
  /** Recipients waiting (queued, released later), by reason (`quiet_hours`, `messaging_limit`). */
  readonly waiting: Record<string, number>;
  /** `f_<status>` and `f_confirmed` without their prefix. */
  readonly followUp: Record<string, number>;
  /** Chunks of the list whose send tasks are all on the send queue. */
  readonly chunksEnqueued: number;
  /** When these counts last changed (the counter items' latest `changedAt`, ISO 8601); absent before any. */
  readonly changedAt?: string;
}

/** Sums counter items (any number, any fields) into totals by kind. */
export function totalsOf(items: Iterable<Record<string, unknown>>): CounterTotals {
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const followUp: Record<string, number> = {};
  const waiting: Record<string, number> = {};
  let retriesPending = 0;
  let chunksEnqueued = 0;
  let changedAt: string | undefined;
  const add = (into: Record<string, number>, name: string, value: unknown) => {
    const n = Number(value);
    if (Number.isFinite(n)) into[name] = (into[name] ?? 0) + n;
  };
  for (const item of items)
    for (const [name, value] of Object.entries(item)) {
      if (name.startsWith('c_')) add(statuses, name.slice(2), value);
      else if (name.startsWith('e_')) add(errors, name.slice(2), value);
      else if (name.startsWith('f_')) add(followUp, name.slice(2), value);
      else if (name.startsWith('w_')) add(waiting, name.slice(2), value);
      else if (name === 'r_pending') retriesPending += Number(value) || 0;
      else if (name === 'chunksEnqueued') chunksEnqueued += Number(value) || 0;
      // ISO 8601 in UTC compares as text does.
      else if (name === 'changedAt' && typeof value === 'string' && (!changedAt || value > changedAt))
        changedAt = value;
    }
  return {
    statuses,
    errors,
    retriesPending,
    waiting,
    followUp,
    chunksEnqueued,
    ...(changedAt ? { changedAt } : {}),
  };
}
