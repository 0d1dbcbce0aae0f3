/**
 * Recipient and broadcast statuses, and the one-way moves between them (API.md "Statuses").
 *
 * Every status write in the system is conditional on the current status, and the condition is
 * decided here: a late, duplicated or reordered provider callback can never move a recipient
 * backwards, and nothing ever moves a recipient out of `cancelled` or `skipped`.
 */

export const RECIPIENT_STATUSES = [
  'pending',
  'queued',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'undelivered',
  'cancelled',
  'skipped',
] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

export const BROADCAST_STATUSES = [
  'scheduled',
  'accepted',
  'queued',
  'running',
  'paused',
  'completed',
  'partial',
  'failed',
  'cancelled',
] as const;
export type BroadcastStatus = (typeof BROADCAST_STATUSES)[number];

/** The statuses a cancel moves a broadcast from: every one that is not final. */
export const CANCELLABLE_BROADCAST_STATUSES = [
  'scheduled',
  'accepted',
  'queued',
  'running',
  'paused',
] as const;

/** Broadcast statuses after which nothing changes any more. */
export const FINAL_BROADCAST_STATUSES: readonly BroadcastStatus[] = [
  'completed',
  'partial',
  'failed',
  'cancelled',
];

export function isFinalBroadcastStatus(status: BroadcastStatus): boolean {
  return FINAL_BROADCAST_STATUSES.includes(status);
}

/**
 * Statuses a pause may start from (what a resume goes back to): a broadcast that has started, or is
 * about to. A `scheduled` one is not paused (cancel it, or create it later); a final one has nothing left.
 */
export const PAUSABLE_BROADCAST_STATUSES = ['accepted', 'queued', 'running'] as const;
export type PausableBroadcastStatus = (typeof PAUSABLE_BROADCAST_STATUSES)[number];

export function isPausable(status: BroadcastStatus): status is PausableBroadcastStatus {
  return (PAUSABLE_BROADCAST_STATUSES as readonly string[]).includes(status);
}

/** No template send starts for a broadcast in these statuses (a claim taken before may finish its one send). */
export function sendsStopped(status: BroadcastStatus): boolean {
  return status === 'cancelled' || status === 'paused';
}

export function isRecipientStatus(value: unknown): value is RecipientStatus {
  return typeof value === 'string' && (RECIPIENT_STATUSES as readonly string[]).includes(value);
}

export function isBroadcastStatus(value: unknown): value is BroadcastStatus {
  return typeof value === 'string' && (BROADCAST_STATUSES as readonly string[]).includes(value);
}

/** Rank given to the terminal statuses: nothing outranks them, so nothing moves them. */
export const TERMINAL_RANK = 100;

const RANK: Readonly<Record<RecipientStatus, number>> = {
  pending: 0,
  queued: 1,
  sending: 2,
  sent: 3,
  undelivered: 4,
  failed: 4,
  delivered: 5,
  read: 6,
  cancelled: TERMINAL_RANK,
  skipped: TERMINAL_RANK,
};

/**
 * The forward order: pending 0 < queued 1 < sending 2 < sent 3 < undelivered 4 = failed 4 <
 * delivered 5 < read 6; cancelled and skipped 100 (terminal).
 * `failed`/`undelivered` rank below `delivered`: a delivery receipt that arrives after a failure
 * report is believed (the handset got it), a failure after a delivery receipt is not.
 */
export function statusRank(status: RecipientStatus): number {
  return RANK[status];
}

/** Statuses a status write may use as its condition to move a recipient to `status`. */
export function statusesBelow(status: RecipientStatus): RecipientStatus[] {
  return RECIPIENT_STATUSES.filter((from) => canAdvance(from, status));
}

/** Recipients not yet handed to the provider: a cancel moves them to `cancelled`. */
export const CANCELLABLE: readonly RecipientStatus[] = ['pending', 'queued'];
/**
 * Recipients that may still be suppressed before any provider call: `sending` is included because
 * the sender checks the suppression list after its claim and before the call.
 */
export const SKIPPABLE: readonly RecipientStatus[] = ['pending', 'queued', 'sending'];

/**
 * Whether a recipient in `from` may move to `to`: only strictly forward, so a duplicate
 * (`to === from`) or a reordered callback (`delivered` after `read`) changes nothing, and nothing
 * leaves `cancelled` or `skipped`.
 * Moves into the terminal statuses are narrower than the rank says: `cancelled` only from
 * pending/queued (a `sending` recipient may already be at Twilio), `skipped` only from
 * pending/queued/sending (never after the provider call).
 * The retry job's failed/undelivered → queued move is not a forward move: see `canRetry`.
 */
export function canAdvance(from: RecipientStatus, to: RecipientStatus): boolean {
  if (to === 'cancelled') return CANCELLABLE.includes(from);
  if (to === 'skipped') return SKIPPABLE.includes(from);
  return RANK[to] > RANK[from];
}

/** The only backward move: the retry job (or the retry route) re-queues failed/undelivered, attempts + 1. */
export function canRetry(from: RecipientStatus): boolean {
  return from === 'failed' || from === 'undelivered';
}

export function canCancel(from: RecipientStatus): boolean {
  return CANCELLABLE.includes(from);
}

/** The recipient statuses a provider report can move a recipient to. */
export type ProviderReportedStatus = Extract<
  RecipientStatus,
  'sent' | 'delivered' | 'read' | 'failed' | 'undelivered'
>;

/**
 * Twilio's `MessageStatus` (callbacks, create and fetch answers) → the recipient status it moves
 * the recipient to, or `undefined` when it moves nothing: `queued`/`accepted`/`scheduled`/`sending`
 * only say Twilio holds the message, and the recipient is already `sending` or beyond.
 * `canceled` (Twilio cancelled a scheduled message) means it will never be sent: `failed`.
 * Unknown values (Twilio adds values without notice) move nothing.
 */
export function providerStatusToRecipient(twilioStatus: string): ProviderReportedStatus | undefined {
  switch (twilioStatus.trim().toLowerCase()) {
    case 'sent':
      return 'sent';
    case 'delivered':
      return 'delivered';
    case 'read':
      return 'read';
    case 'failed':
      return 'failed';
    case 'undelivered':
      return 'undelivered';
    case 'canceled':
    case 'cancelled':
      return 'failed';
    default:
      return undefined;
  }
}

/** Statuses of a recipient whose send is not over yet. */
export const IN_FLIGHT: readonly RecipientStatus[] = ['pending', 'queued', 'sending'];

/** A recipient is processed when it is no longer in flight (API.md: `processedCount`). */
export function isProcessed(status: RecipientStatus): boolean {
  return !IN_FLIGHT.includes(status);
}

/** Statuses that count as a success: the provider took the message and sent it on. */
export const SUCCEEDED: readonly RecipientStatus[] = ['sent', 'delivered', 'read'];
/** Statuses that count against success in the broadcast's outcome. */
export const NOT_SUCCEEDED: readonly RecipientStatus[] = ['failed', 'undelivered', 'cancelled'];

/**
 * The broadcast status a broadcast ends in, or `undefined` while it is not final (a recipient is
 * still pending/queued/sending, or a retry is scheduled), or when it has no recipient counted yet.
 * - `completed`: every recipient is sent/delivered/read or skipped (all skipped is `completed` too);
 * - `failed`: none succeeded (sent/delivered/read) and at least one failed/undelivered/cancelled;
 * - `partial`: some succeeded, some failed/undelivered/cancelled.
 * Cancelled recipients count as not succeeded here; a broadcast cancelled through the cancel route
 * takes the status `cancelled` there, not through this function.
 */
export function finalBroadcastStatus(
  counts: Readonly<Record<RecipientStatus, number>>,
  options: { retryPending: boolean },
): 'completed' | 'partial' | 'failed' | undefined {
  if (options.retryPending) return undefined;
  let total = 0;
  for (const s of RECIPIENT_STATUSES) total += counts[s] ?? 0;
  if (total <= 0) return undefined;
  for (const s of IN_FLIGHT) if ((counts[s] ?? 0) > 0) return undefined;
  let succeeded = 0;
  for (const s of SUCCEEDED) succeeded += counts[s] ?? 0;
  let notSucceeded = 0;
  for (const s of NOT_SUCCEEDED) notSucceeded += counts[s] ?? 0;
  if (notSucceeded === 0) return 'completed';
  return succeeded === 0 ? 'failed' : 'partial';
}

/**
 * A recipient's status as the API shows it: one still waiting in the ledger (`queued`) of a cancelled
 * broadcast is never sent, so it is `cancelled` (as the counts show it, core/counts.ts).
 */
export function shownRecipientStatus(stored: RecipientStatus, broadcast: BroadcastStatus): RecipientStatus {
  return broadcast === 'cancelled' && stored === 'queued' ? 'cancelled' : stored;
}

/**
 * The stored statuses a recipients filter (`?status=`) must read to find those shown as `shown`
 * (shownRecipientStatus): none for `queued` on a cancelled broadcast.
 */
export function storedStatusesShownAs(shown: RecipientStatus, broadcast: BroadcastStatus): RecipientStatus[] {
  return RECIPIENT_STATUSES.filter((stored) => shownRecipientStatus(stored, broadcast) === shown);
}
