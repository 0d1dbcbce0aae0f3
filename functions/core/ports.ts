/**
 * The small interfaces the domain talks through. Adapters (functions/adapters/) implement
 * them over DynamoDB, SQS and Twilio; handlers wire them. Nothing here knows AWS.
 */

import type { CanaryState } from './canary.ts';
import type { CounterDeltas, CounterTotals } from './count-deltas.ts';
import type { LifecycleEvent } from './lifecycle-events.ts';
import type { QuietHours } from './quiet-hours.ts';
import type { FrequencyCap, WaitReason } from './send-timing.ts';
import type { RecipientSkipReason } from './skips.ts';
import type { BroadcastStatus, PausableBroadcastStatus, RecipientStatus } from './statuses.ts';
import type { SenderSnapshot } from './tenant-senders.ts';

export interface TemplateSpec {
  readonly contentSid: string;
  /** Template variable values, possibly with `{{key}}` placeholders for per-recipient values. */
  readonly variables?: Readonly<Record<string, string>>;
}

export interface FollowUpSpec {
  readonly body: string;
  readonly confirmPayload?: string;
}

export interface Broadcast {
  readonly tenantId: string;
  readonly broadcastId: string;
  readonly name: string;
  readonly status: BroadcastStatus;
  readonly createdAt: string;
  readonly scheduledAt?: string;
  readonly startedAt?: string;
  readonly completedAt?: string;
  readonly cancelledAt?: string;
  /** While `paused`: when, why (an admin, or the canary's finding), and the status a resume goes back to. */
  readonly pausedAt?: string;
  readonly pauseReason?: string;
  readonly pausedFrom?: PausableBroadcastStatus;
  /** When it was last resumed: kept when the pause's fields go, so what its progress shows as changed moves on. */
  readonly resumedAt?: string;
  /**
   * A test send (POST /v1/broadcasts/test-send): to a few test phones only, and left out of the
   * tenant's metrics, frequency caps and daily limit.
   */
  readonly test?: boolean;
  /** Its canary (core/canary.ts): who goes first, and the decision about the rest. */
  readonly canary?: CanaryState;
  readonly template: TemplateSpec;
  readonly followUp?: FollowUpSpec;
  /** The tenant's own sender when it was created (core/tenant-senders.ts); absent: the deployment's. */
  readonly sender?: SenderSnapshot;
  /**
   * The audience it was sent to, as asked (its members were read once, at create); the listed phones
   * as a count only: up to 100,000 of them would not fit the broadcast's item (400 KB).
   */
  readonly audience?: {
    readonly groupIds?: readonly string[];
    readonly tags?: readonly string[];
    readonly phonesCount?: number;
  };
  readonly totalRecipients: number;
  /** Of those, the ones skipped at creation (suppressed, or another skip reason: written as `skipped`). */
  readonly skippedCount?: number;
  /** Recipient lists are stored in chunks at create and handed to the send queue by the fan-out step. */
  readonly chunkCount: number;
  /** Identifies an identical request (10-minute window without an Idempotency-Key). */
  readonly fingerprint: string;
  /** The whole body's fingerprint: the same Idempotency-Key with another body is a conflict. */
  readonly bodyFingerprint: string;
  /** What the 202 said, kept so an idempotent repeat can say it again. */
  readonly invalidRecipientsCount: number;
  readonly invalidRecipients: readonly {
    readonly input: string;
    readonly reason: string;
    readonly index?: number;
  }[];
  readonly duplicateRecipientsCount: number;
  /** A campaign's run: the campaign and the firing's scheduled time (functions/use-cases/campaign-run.ts). */
  readonly campaign?: { readonly campaignId: string; readonly scheduledFor: string };
  /** Nobody is messaged inside these hours of their own local time (core/quiet-hours.ts). */
  readonly quietHours?: QuietHours;
  /** At most `max` messages to a contact in any `days` days; the rest were skipped at create. */
  readonly frequencyCap?: FrequencyCap;
  /** Recipients that waited at create (quiet hours, the messaging limit), and the latest release. */
  readonly waitingAtCreate?: number;
  readonly waitingUntil?: string;
  /** When the last message should go (releases plus the sender's rate), as estimated at create. */
  readonly estimatedFinishAt?: string;
  /** Its messages go into the tenant's send history: the tenant had a messagingLimit at create. */
  readonly recordsHistory?: boolean;
}

/** One recipient of one broadcast: also its send ledger entry (claim, attempt, SID). */
export interface Recipient {
  readonly tenantId: string;
  readonly broadcastId: string;
  /** Position in the accepted list; stable, and with the broadcast id it addresses the recipient. */
  readonly index: number;
  /** The stored chunk the recipient's entry (and its rendered template variables) is in. */
  readonly chunk?: number;
  readonly phone: string;
  readonly status: RecipientStatus;
  /** 1 for the first send; the retry job increments it. */
  readonly attempts: number;
  readonly messageSid?: string;
  readonly errorCode?: number;
  readonly errorMessage?: string;
  readonly queuedAt?: string;
  readonly claimedAt?: string;
  readonly leaseUntil?: string;
  readonly sentAt?: string;
  readonly deliveredAt?: string;
  readonly readAt?: string;
  readonly nextRetryAt?: string;
  /** With `queued` and nextRetryAt: the recipient waits until then (quiet hours, the messaging limit). */
  readonly waitReason?: WaitReason;
  /** When the recipient tapped the confirmation button (two-step broadcasts). */
  readonly confirmedAt?: string;
  /** When the person was erased (POST /v1/erasures): `phone` is then `erased`. */
  readonly erasedAt?: string;
  /** Why a `skipped` recipient was not sent, when written at create (absent: suppressed). */
  readonly skipReason?: RecipientSkipReason;
  /** The free-form follow-up sent after the confirmation tap, tracked like the template. */
  readonly followUp?: FollowUpDelivery;
  readonly updatedAt: string;
}

/** The follow-up's own send ledger on the recipient (statuses: core/follow-up.ts). */
export interface FollowUpDelivery {
  readonly status: FollowUpStatus;
  readonly messageSid?: string;
  readonly errorCode?: number;
  readonly errorMessage?: string;
  readonly claimedAt?: string;
  readonly leaseUntil?: string;
  readonly sentAt?: string;
  readonly deliveredAt?: string;
  readonly readAt?: string;
  readonly updatedAt?: string;
}

/**
 * A follow-up moves queued → sending → sent → delivered → read, or ends failed/undelivered,
 * `skipped` (the number opted out), `cancelled` (the broadcast was) or `expired` (the tap came
 * after the 24-hour window, so free-form text may not be sent).
 */
export type FollowUpStatus = Exclude<RecipientStatus, 'pending'> | 'expired';

/**
 * What one SQS message on the send queue carries: the recipient it is for, the attempt, and what to
 * send, so a send needs no read of the list (the template's values stay off the ledger entry).
 */
export interface SendTask {
  readonly tenantId: string;
  readonly broadcastId: string;
  readonly index: number;
  readonly attempt: number;
  /** What to send: the broadcast's template (the default) or its free-form follow-up. */
  readonly kind?: 'template' | 'followUp';
  /** E.164. */
  readonly phone: string;
  /** The template's variables rendered for this recipient (template sends). */
  readonly variables?: Readonly<Record<string, string>>;
  /** The stored chunk the recipient is in (its entry holds the variables again for retries). */
  readonly chunk?: number;
  /** When the recipient was handed to the send queue. */
  readonly queuedAt?: string;
  /** The recipient's IANA zone, when its broadcast has quiet hours. */
  readonly timeZone?: string;
}

/** What one SQS message on the fan-out queue names: a stored chunk of the recipient list. */
export interface FanOutTask {
  readonly tenantId: string;
  readonly broadcastId: string;
  readonly chunk: number;
  /**
   * Hand this chunk's unsent recipients to the send queue again (a resume, the canary's go-ahead:
   * use-cases/broadcast-release.ts) instead of fanning it out the first time.
   */
  readonly release?: boolean;
}

export interface RecipientKey {
  readonly tenantId: string;
  readonly broadcastId: string;
  readonly index: number;
}

/** A provider message SID's owner: the recipient, and which of its messages it is. */
export interface MessageRef extends RecipientKey {
  readonly kind: 'template' | 'followUp';
}

/** The provider's answer to one send, as the send consumer sees it. */
export type ProviderSendResult =
  | { readonly kind: 'accepted'; readonly sid: string }
  | {
      readonly kind: 'http-error';
      readonly status: number;
      readonly code?: number;
      readonly message?: string;
    }
  | { readonly kind: 'network-error' | 'timeout'; readonly message: string };

export interface OutboundTemplate {
  readonly to: string;
  readonly contentSid: string;
  readonly contentVariables: Readonly<Record<string, string>>;
  /** Per-message callback URL; its query names the recipient and attempt (covered by the signature). */
  readonly statusCallback: string;
}

/** A free-form text (the follow-up), allowed only inside the 24-hour window the recipient opened. */
export interface OutboundText {
  readonly to: string;
  readonly body: string;
  readonly statusCallback: string;
}

/** A message as the provider reports it (reconciliation of ambiguous sends and lost callbacks). */
export interface ProviderMessage {
  readonly sid: string;
  readonly to: string;
  readonly status: string;
  readonly errorCode?: number;
  readonly dateCreated: Date;
}

export interface Messenger {
  /** One provider call, no retries: the retry layer is ours. */
  sendTemplate(message: OutboundTemplate): Promise<ProviderSendResult>;
  /** One free-form text, no retries. */
  sendText(message: OutboundText): Promise<ProviderSendResult>;
  /** The message with this SID, or undefined when the provider has none. */
  fetchMessage(sid: string): Promise<ProviderMessage | undefined>;
  /** Messages from our sender to `to` created since `since` (Twilio's list by To/From/DateSent). */
  findMessages(to: string, since: Date): Promise<ProviderMessage[]>;
  /** Whether credentials and a sender are configured (the create route's pre-flight). */
  readonly configured: boolean;
  /** The sender messages go out from (its From address or Messaging Service): the unit of rate limits. */
  readonly sender: string;
  /** The sender's own messages per second (a tenant's sender setting); absent: the deployment's SENDER_MPS. */
  readonly mps?: number;
}

/** A claim's answer: the recipient as claimed, or (not claimed) the ledger entry as it is. */
export type ClaimResult =
  | { readonly claimed: true; readonly recipient: Recipient }
  | { readonly claimed: false; readonly current?: Recipient };

/** A provider report (a status callback, a reconciliation) or a decision of ours about one send. */
export interface OutcomeReport {
  readonly to: Exclude<RecipientStatus, 'pending' | 'queued' | 'sending' | 'cancelled' | 'skipped'>;
  readonly at: Date;
  /** The attempt it speaks for: it never moves another attempt. */
  readonly attempt: number;
  /** The provider's SID of the message it reports: it never moves a recipient whose SID is another. */
  readonly messageSid?: string;
  /** Only when the recipient's recorded SID is `messageSid` (a report that named no attempt of its own). */
  readonly requireRecordedSid?: boolean;
  readonly errorCode?: number;
  readonly errorMessage?: string;
  /** With `failed`/`undelivered`: when the retry job may try again (indexed as a due retry). */
  readonly retryAt?: Date;
}

/** A report on a follow-up: like OutcomeReport, without attempts or retries (a follow-up is sent once). */
export type FollowUpReport = Omit<OutcomeReport, 'to' | 'attempt' | 'retryAt'> & {
  readonly to: FollowUpStatus;
};

/**
 * Broadcasts and their stored lists: the broadcast items (status, the active index), the chunks of
 * the accepted list and how far the fan-out has got with them.
 */
export interface Broadcasts {
  /** Stores the broadcast (status `accepted` or `scheduled`) and its list in chunks; nothing when it throws. */
  create(
    broadcast: Broadcast,
    chunks: readonly (readonly ChunkEntry[])[],
    idempotency: { readonly key?: string; readonly fingerprintExpiresAt: number },
  ): Promise<
    { created: true } | { created: false; existingBroadcastId: string; fingerprintMatches: boolean }
  >;
  findByIdempotencyKey(
    tenantId: string,
    key: string,
  ): Promise<{ broadcastId: string; fingerprint: string } | undefined>;
  findByFingerprint(tenantId: string, fingerprint: string, now: Date): Promise<string | undefined>;
  /** Points an Idempotency-Key at an existing broadcast (a keyed repeat of a keyless request). */
  rememberKey(tenantId: string, key: string, broadcastId: string, bodyFingerprint: string): Promise<void>;
  get(tenantId: string, broadcastId: string): Promise<Broadcast | undefined>;
  page(
    tenantId: string,
    /** `test`: only test sends (true) or none of them (false). */
    page: { limit: number; cursor?: string; status?: string; test?: boolean },
  ): Promise<{ items: Broadcast[]; nextCursor?: string }>;
  /** Broadcasts not final yet, across tenants (sweeper, retry job) or for one tenant (metrics). */
  active(tenantId?: string): Promise<Broadcast[]>;

  readChunk(broadcastId: string, chunk: number): Promise<StoredChunk>;
  /**
   * Counts the chunk's recipients as queued (once: false when it was counted before). Happens before
   * their send tasks are enqueued, so the counts never miss a recipient that is being sent.
   */
  countChunk(broadcast: Broadcast, chunk: number, size: number): Promise<boolean>;
  /** Marks the chunk's send tasks enqueued; the broadcast goes accepted → queued with its last chunk. */
  chunkEnqueued(broadcast: Broadcast, chunk: number): Promise<void>;
  /** Chunks whose send tasks are not all enqueued yet (the sweeper re-fans them). */
  unfinishedChunks(broadcast: Broadcast): Promise<number[]>;

  /** scheduled → accepted, when its time has come; false when it was not scheduled. */
  startScheduled(tenantId: string, broadcastId: string): Promise<boolean>;
  /** accepted/queued → running (its first claim); true when this call moved it. */
  markRunning(tenantId: string, broadcastId: string, at: Date): Promise<boolean>;
  /**
   * accepted/queued/running → paused, remembering the status it left and why. The broadcast as it is
   * afterwards (paused: by this call or an earlier one), or undefined when there is none.
   */
  pause(tenantId: string, broadcastId: string, at: Date, reason: string): Promise<Broadcast | undefined>;
  /** paused → the status it was paused from; the broadcast as resumed, or undefined when it was not paused. */
  resume(tenantId: string, broadcastId: string, at: Date): Promise<Broadcast | undefined>;
  /** Records the canary's decision, once: false when it was decided before (or there is no canary). */
  decideCanary(
    broadcast: Broadcast,
    decided: Required<Pick<CanaryState, 'decision' | 'decidedAt' | 'outcomes' | 'failureRate'>> &
      Pick<CanaryState, 'topErrorCode'>,
  ): Promise<boolean>;
  /** Not final → cancelled; false when it was final already. */
  cancel(tenantId: string, broadcastId: string, at: Date): Promise<boolean>;
  /** Sets a final outcome (or moves a final one to another: a late failure) and leaves the active index. */
  finish(broadcast: Broadcast, status: 'completed' | 'partial' | 'failed', at: Date): Promise<boolean>;
  /** A cancelled broadcast whose last sends settled leaves the active index. */
  settleCancelled(broadcast: Broadcast): Promise<void>;
  /** A final broadcast with work again (a retry was scheduled after it ended) runs again. */
  reopen(broadcast: Broadcast): Promise<boolean>;
  /** Remembers the counts the sweeper saw; returns since when they have been the same (stalled since). */
  noteSweep(broadcast: Broadcast, countsSignature: string, at: Date): Promise<Date>;
}

/** A stored chunk of a broadcast's accepted list. */
export interface StoredChunk {
  readonly entries: readonly ChunkEntry[];
  /** `counted`: its recipients are counted queued; `enqueued`: their send tasks are on the queue too. */
  readonly state?: 'counted' | 'enqueued';
}

/**
 * The send ledger: one entry per recipient (its claim, attempt, status, SID, retry, and its
 * follow-up's own ledger). Every write is one conditional update of that entry; the counters
 * follow from the entries' changes (core/count-deltas.ts).
 */
export interface SendLedger {
  get(key: RecipientKey): Promise<Recipient | undefined>;
  /** A page of the broadcast's written recipients; with `statuses`, only those stored in one of them. */
  page(
    broadcast: Broadcast,
    page: { limit: number; cursor?: string; statuses?: readonly RecipientStatus[] },
  ): Promise<{ items: Recipient[]; nextCursor?: string }>;
  /** The ledger entries of these recipients of a broadcast that exist, by index (batch reads). */
  getMany(broadcast: Broadcast, indexes: readonly number[]): Promise<Map<number, Recipient>>;
  /** Recipients of a broadcast in these statuses (reads the broadcast's recipients). */
  inStatuses(broadcast: Broadcast, statuses: readonly RecipientStatus[]): Promise<Recipient[]>;
  /**
   * How many of a broadcast's written recipients are in each status, read now (strongly consistent:
   * every write acknowledged before the call is counted). Reads every recipient item (its status
   * only), so it is for rare answers that must not trail the ledger (a cancel's count), not for
   * polling. Recipients never written (still counted `queued` by the fan-out) are not in it.
   */
  statusTally(broadcast: Broadcast): Promise<Partial<Record<RecipientStatus, number>>>;
  /**
   * Queued (or never written) → sending for the task's attempt, with a lease; the entry is created by
   * the first claim. Not claimed: the entry as it is (a duplicate, a stale attempt, or a claim held).
   */
  claim(task: SendTask, at: Date, leaseUntil: Date): Promise<ClaimResult>;
  /** A claim whose lease expired (its invocation died) → claimed again, same attempt; false if it moved. */
  takeOver(recipient: Recipient, at: Date, leaseUntil: Date): Promise<boolean>;
  /**
   * Writes a recipient never to be sent as `skipped` (at create: suppressed, or `reason`) with `why`
   * as its errorMessage; false when it was written before.
   */
  markSkipped(task: SendTask, at: Date, why: string, reason?: RecipientSkipReason): Promise<boolean>;
  /** sending → queued, same attempt, while no SID is known (the provider never got it). */
  release(key: RecipientKey, attempt: number, at: Date): Promise<boolean>;
  /** queued → cancelled (an entry released or re-queued earlier; a never-written one needs nothing). */
  cancel(key: RecipientKey, attempt: number, at: Date): Promise<boolean>;
  /** sending → skipped before any provider call (the number is suppressed). */
  skip(key: RecipientKey, attempt: number, at: Date, why: string): Promise<boolean>;
  /** Moves the recipient forward to what the report says, only from where that is a forward move. */
  report(key: RecipientKey, report: OutcomeReport): Promise<boolean>;
  /** failed/undelivered at `attempt` → queued at `attempt + 1`; the entry as re-queued, or undefined. */
  requeueForRetry(key: RecipientKey, attempt: number, at: Date): Promise<Recipient | undefined>;
  /** Forgets a scheduled retry (a cancelled broadcast): the recipient stays failed for good. */
  dropRetry(key: RecipientKey, attempt: number): Promise<void>;
  /**
   * Retries scheduled for a broadcast, due by `until` (all of them without it), earliest first; and
   * recipients that wait (quiet hours, the messaging limit), on the same index, with their `waitReason`.
   */
  scheduledRetries(
    broadcastId: string,
    until?: Date,
    limit?: number,
  ): Promise<(RecipientKey & { attempt: number; nextRetryAt: string; waitReason?: WaitReason })[]>;
  /**
   * Makes the recipient wait until `until` (status `queued` at the task's attempt, on the due index):
   * one never written, or queued. False when it moved on (claimed, sent, final).
   */
  wait(task: SendTask, until: Date, reason: WaitReason, at: Date): Promise<boolean>;
  /** A waiting recipient, due: off the due index, still `queued`; the entry, or undefined if it moved. */
  releaseWaiting(key: RecipientKey, attempt: number, at: Date): Promise<Recipient | undefined>;
}

/** The two-step flow's ledger on the recipient (`confirmedAt`, `followUp`). */
export interface FollowUpLedger {
  /** Sets confirmedAt and the follow-up's first status, once; false when confirmed before. */
  confirm(key: RecipientKey, at: Date, followUp: 'queued' | 'expired'): Promise<boolean>;
  /** Follow-up queued → sending with a lease; not claimed: the entry as it is. */
  claim(key: RecipientKey, at: Date, leaseUntil: Date): Promise<ClaimResult>;
  /** A follow-up claim whose lease expired → claimed again. */
  takeOver(recipient: Recipient, at: Date, leaseUntil: Date): Promise<boolean>;
  /** Follow-up sending → queued (rate limited), unless a SID is known. */
  release(key: RecipientKey, at: Date): Promise<boolean>;
  /** Moves the follow-up forward only (canAdvanceFollowUp). */
  report(key: RecipientKey, report: FollowUpReport): Promise<boolean>;
}

/** The counts the stream aggregator keeps, and the tenant's recent activity. */
export interface BroadcastCounters {
  /** Every counter of the broadcast, summed (core/count-deltas.ts totalsOf). */
  totals(broadcastId: string): Promise<CounterTotals>;
  /** Sent and failed recipients per minute for a tenant, for /v1/metrics. */
  recentActivity(tenantId: string, now: Date, minutes: number): Promise<{ sent: number; failed: number }>;
  /**
   * Applies one shard's stream changes of one broadcast, exactly once: changes at or below the
   * shard's watermark (a retried batch) are left out. Returns the deltas and changes actually applied.
   */
  apply(update: CounterUpdate): Promise<{ deltas: CounterDeltas; applied: number }>;
  /** Adds sent and failed recipients to a tenant's minute (one write per tenant and minute per batch). */
  addActivity(tenantId: string, minute: string, counts: { sent: number; failed: number }): Promise<void>;
  /** Each shard's counter item as it is (fields and watermark), by shard name (`S05`). */
  shardCounts(broadcastId: string): Promise<Map<string, ShardCounts>>;
  /**
   * The recount's repair: adds `deltas` to a shard's counters only while its watermark is still
   * `seenSeq` (the aggregator applied nothing since it was read), and sets its `changedAt`. False
   * when it moved.
   */
  correct(update: {
    tenantId: string;
    broadcastId: string;
    shard: string;
    deltas: CounterDeltas;
    seenSeq: string | undefined;
    changedAt: string;
  }): Promise<boolean>;
}

/** One shard's counter item: its counter fields and the aggregator's watermark. */
export interface ShardCounts {
  readonly fields: Readonly<Record<string, unknown>>;
  readonly seq: string | undefined;
}

/** The changes of one broadcast shard's recipients in one stream batch, in stream order. */
export interface CounterUpdate {
  readonly tenantId: string;
  readonly broadcastId: string;
  /** The recipients' shard (`S05`): one counter item, one writer. */
  readonly shard: string;
  /**
   * When these counts change (ISO 8601), kept on the counter item as `changedAt`. One writer per
   * shard, batch after batch, so it only moves forward; a retried batch that adds nothing leaves it.
   */
  readonly changedAt: string;
  readonly changes: readonly {
    /** The stream record's sequence number (digits; ordered within the item collection). */
    readonly sequence: string;
    readonly deltas: CounterDeltas;
  }[];
}

/** Provider SID → recipient, kept where a reply must find its message (two-step broadcasts). */
export interface MessageIndex {
  index(sid: string, ref: MessageRef): Promise<void>;
  find(sid: string): Promise<MessageRef | undefined>;
}

/** One accepted recipient as stored in a chunk of the list before fan-out. */
export interface ChunkEntry {
  readonly index: number;
  readonly phone: string;
  readonly contentVariables: Readonly<Record<string, string>>;
  /** Counted but never sent (written as `skipped`): suppressed at creation, or `skipReason`. */
  readonly skipped?: boolean;
  /** Why it is skipped, when not because it is suppressed (template-check.ts SKIP_REASONS). */
  readonly skipReason?: RecipientSkipReason;
  /** Sent no earlier than this (ISO), and why (core/send-timing.ts); absent: at once. */
  readonly notBefore?: string;
  readonly waitReason?: WaitReason;
  /** The hour it is booked in, in the tenant's messaging-limit book. */
  readonly limitHour?: number;
  /** Its IANA zone, kept when the broadcast has quiet hours (checked again at send). */
  readonly timeZone?: string;
}

/** A work queue (send tasks, fan-out tasks); consumers are idempotent, so at-least-once is enough. */
export interface TaskQueue<T> {
  /** Enqueues the tasks, each visible after `delaySeconds` (0–900; default 0). */
  enqueue(tasks: readonly T[], options?: { delaySeconds?: number }): Promise<void>;
}

/** Why a number is on a tenant's suppression list. */
export type SuppressionReason = 'opt_out_keyword' | 'opt_out_button' | 'provider_error' | 'admin';

/** A number the tenant must not message (opted out, blocked us, or added by an admin). */
export interface Suppression {
  readonly tenantId: string;
  /** E.164. */
  readonly phone: string;
  readonly reason: SuppressionReason;
  /** What it rests on: the keyword or button payload, the provider's error code, an admin's note. */
  readonly detail?: string;
  readonly createdAt: string;
  /**
   * `sender`: the person opted out of the deployment's sender, so of every tenant (tenantId is then the
   * tenant that asked); only the person lifts it, by writing START. Absent: the tenant's own.
   */
  readonly scope?: 'sender';
}

export type MessageDirection = 'outbound' | 'inbound';
export type MessageType = 'broadcast' | 'follow_up' | 'inbound';

/**
 * One message the product sent to or received from a contact: the contact's history. Outbound
 * entries name their recipient (broadcast + index), whose ledger holds the live status.
 */
export interface ContactMessage {
  readonly tenantId: string;
  /** The contact, E.164. */
  readonly phone: string;
  /** When it was sent (the claim) or received. */
  readonly at: string;
  readonly direction: MessageDirection;
  readonly type: MessageType;
  readonly messageSid: string;
  readonly broadcastId?: string;
  readonly index?: number;
  /** Inbound: the text (a tap's button text). */
  readonly body?: string;
  /** Inbound: the tapped button's id. */
  readonly buttonPayload?: string;
  /** Inbound: the SID of our message it answers (OriginalRepliedMessageSid). */
  readonly repliedToSid?: string;
}

/** Per-tenant suppression lists and per-contact message history. */
export interface ContactStore {
  /**
   * Adds (or replaces) the number's suppression. With `replaces`: only when the tenant's list does
   * not hold the number or holds it for one of those reasons; an entry it keeps is answered (undefined
   * when written). core/contacts.ts KEEP_ANY_ENTRY and KEEP_OPT_OUTS say which callers keep what.
   */
  suppress(
    suppression: Suppression,
    options?: { readonly replaces?: readonly SuppressionReason[] },
  ): Promise<Suppression | undefined>;
  /** Removes it; false when the number was not suppressed. */
  unsuppress(tenantId: string, phone: string): Promise<boolean>;
  /** Suppresses the number for every tenant, now and later: the person's own opt-out (scope `sender`). */
  suppressForSender(suppression: Omit<Suppression, 'tenantId' | 'scope'>): Promise<void>;
  /** Lifts the person's sender-wide opt-out; false when there was none. */
  unsuppressForSender(phone: string): Promise<boolean>;
  /**
   * A strongly consistent read: the send path asks right before each send. The sender-wide opt-out
   * when there is one (it binds whatever the tenant's list says), else the tenant's own.
   */
  suppression(tenantId: string, phone: string): Promise<Suppression | undefined>;
  /** Which of these numbers the tenant may not message, by its list or the sender-wide one (the create route marks them skipped). */
  suppressedAmong(tenantId: string, phones: readonly string[]): Promise<Set<string>>;
  /** The tenant's list and the sender-wide opt-outs, merged in phone order (one entry per phone). */
  listSuppressions(
    tenantId: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ items: Suppression[]; nextCursor?: string }>;

  /** Records an outbound message (idempotent: the same message recorded twice is one entry). */
  recordMessage(message: ContactMessage): Promise<void>;
  /** Records many outbound messages at once (BatchWriteItem; idempotent like recordMessage). */
  recordMessages(messages: readonly ContactMessage[]): Promise<void>;
  /**
   * Records one inbound message (one entry per tenant it concerns) and marks its MessageSid as
   * handled, atomically; false when that MessageSid was handled before (a Twilio retry).
   */
  recordInbound(messageSid: string, entries: readonly ContactMessage[]): Promise<boolean>;
  /** Whether an inbound MessageSid was handled already. */
  inboundHandled(messageSid: string): Promise<boolean>;
  /** Which recorded message of this contact's history (any tenant) has this SID, if any. */
  messageWithSid(phone: string, sid: string): Promise<ContactMessage | undefined>;
  /** The contact's history for one tenant, newest first. */
  listMessages(
    tenantId: string,
    phone: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ items: ContactMessage[]; nextCursor?: string }>;
  /** Tenants that have messaged this contact, each with its latest message time (inbound routing). */
  tenantsOfContact(phone: string): Promise<{ tenantId: string; lastAt: string }[]>;
  /**
   * Erasure: the text of the contact's history with this tenant (`body`, `buttonPayload`) is
   * removed, the entries' metadata stays; idempotent. How many entries lost text.
   */
  eraseHistoryText(tenantId: string, phone: string, at: Date): Promise<number>;
}

/** A sender's rate cut, shared through its schedule (core/pacing.ts). */
export interface PaceState {
  /** The rate a provider rate-limit signal cut it to, and when (epoch ms). */
  readonly cutMps?: number;
  readonly cutAt?: number;
}

/** One schedule of send slots per sender, shared by every send consumer (core/pacing.ts). */
export interface SenderSchedule {
  /**
   * Books `count` slots `intervalMs` apart from the sender's next free time (now, when idle),
   * unless the last would lie beyond `nowMs + horizonMs`: then nothing is booked. Contention is
   * never an error: a booking that keeps losing to other consumers answers not booked, with a
   * `nextFreeAt` one block later.
   */
  book(
    sender: string,
    request: { count: number; intervalMs: number; nowMs: number; horizonMs: number },
  ): Promise<
    | { readonly booked: true; readonly firstSlotAt: number; readonly state: PaceState }
    | { readonly booked: false; readonly nextFreeAt: number; readonly state: PaceState }
  >;
  /**
   * Records a rate cut for everyone: `cutMps` (messages/s) from `nowMs`, judged from `seen`, the cut
   * this container knew of. Written only while the stored cut is still `seen` (none, or the same
   * `cutAt`), so a container with a stale view never overwrites a deeper cut with a shallower one;
   * answers whether it was written, and the stored state either way.
   */
  cut(
    sender: string,
    request: { cutMps: number; nowMs: number; seen: PaceState },
  ): Promise<{ readonly cut: boolean; readonly state: PaceState }>;
}

/** What the tenant's send history says of one person (frequency caps, the messaging limit). */
export interface PersonHistory {
  /** When each of the tenant's broadcasts of the last MAX_CAP_DAYS sent (or will send) them a message. */
  readonly sends: readonly string[];
  /** The hour (epoch hours) they were last booked in the tenant's messaging-limit book. */
  readonly limitHour?: number;
}

/**
 * The tenant's send history per person, and its messaging-limit book (core/send-timing.ts). Written
 * by the fan-out as a broadcast's recipients are handed over (test broadcasts are not written).
 */
export interface SendHistory {
  among(tenantId: string, phones: readonly string[]): Promise<ReadonlyMap<string, PersonHistory>>;
  /** Records one broadcast's message to each (idempotent: the same broadcast twice is one message). */
  record(
    tenantId: string,
    broadcastId: string,
    sends: readonly { phone: string; at: string; limitHour?: number }[],
  ): Promise<void>;
  /** The tenant's book (hour → people) and its version (for the conditional write). */
  readBook(tenantId: string): Promise<{ book: Record<string, number>; version: number }>;
  /** Writes the book if it is still at `version`; false when another create wrote it meanwhile. */
  writeBook(tenantId: string, book: Record<string, number>, version: number): Promise<boolean>;
}

/**
 * Puts lifecycle events (core/lifecycle-events.ts) on the event bus (EventBridge on AWS, the twin's
 * local bus). At least once: an event it reports as failed was not taken and must be put again; one
 * it does not report was taken (and may arrive twice if put again: consumers dedupe by eventId).
 */
export interface EventPublisher {
  /** Puts every event; answers the eventIds of those still refused after its own retries. */
  publish(events: readonly LifecycleEvent[]): Promise<{ readonly failedEventIds: readonly string[] }>;
}
