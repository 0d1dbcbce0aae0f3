/**
 * The small interfaces the domain talks through. Adapters (functions/adapters/) implement
 * them over DynamoDB, SQS and Twilio; handlers wire them. Nothing here knows AWS.
 */
import type { StatusCounts } from './counts.ts';
import type { FollowUpCounts } from './follow-up.ts';
import type { BroadcastStatus, RecipientStatus } from './statuses.ts';

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
  readonly template: TemplateSpec;
  readonly followUp?: FollowUpSpec;
  readonly totalRecipients: number;
  /** Of those, the ones on the tenant's suppression list at creation (written as `skipped`). */
  readonly skippedCount?: number;
  /** Recipient lists are stored in chunks after the 202 and expanded by the fan-out step. */
  readonly chunkCount: number;
  readonly chunksExpanded: number;
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
}

/** One recipient of one broadcast: also its send ledger entry (claim, attempt, SID). */
export interface Recipient {
  readonly tenantId: string;
  readonly broadcastId: string;
  /** Position in the accepted list; stable, and with the broadcast id it addresses the recipient. */
  readonly index: number;
  readonly phone: string;
  /** Content variables rendered for this recipient (JSON-encodable). */
  readonly contentVariables: Readonly<Record<string, string>>;
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
  /** When the recipient tapped the confirmation button (two-step broadcasts). */
  readonly confirmedAt?: string;
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

/** What one SQS message on the send queue names. */
export interface SendTask {
  readonly tenantId: string;
  readonly broadcastId: string;
  readonly index: number;
  readonly attempt: number;
  /** What to send: the broadcast's template (the default) or its free-form follow-up. */
  readonly kind?: 'template' | 'followUp';
}

/** What one SQS message on the fan-out queue names: a stored chunk of the recipient list. */
export interface FanOutTask {
  readonly tenantId: string;
  readonly broadcastId: string;
  readonly chunk: number;
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
}

/** Why a conditional move did not happen; the caller decides whether that is fine. */
export type MoveResult = { readonly moved: true } | { readonly moved: false; readonly current?: Recipient };

/**
 * Persistence of broadcasts and their recipients. Every status move is conditional on
 * the recipient's current state and updates the broadcast's counters in the same atomic
 * write, so duplicates, reordering and crashes can never make the counts drift.
 */
export interface BroadcastStore {
  /** Stores the broadcast (status `accepted`) and its recipient list in chunks; nothing when it throws. */
  createBroadcast(
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
  getBroadcast(tenantId: string, broadcastId: string): Promise<Broadcast | undefined>;
  listBroadcasts(
    tenantId: string,
    page: { limit: number; cursor?: string; status?: string },
  ): Promise<{ items: Broadcast[]; nextCursor?: string }>;
  /** Counts per status (pending included) and error counts by code, summed over the counter shards. */
  getCounts(broadcast: Broadcast): Promise<{
    counts: StatusCounts;
    errors: Record<string, number>;
    retriesPending: number;
    /** With a follow-up: the two-step flow's counts. */
    followUps?: FollowUpCounts;
  }>;
  listRecipients(
    broadcast: Broadcast,
    page: { limit: number; cursor?: string; status?: string },
  ): Promise<{ items: Recipient[]; nextCursor?: string }>;

  /** Fan-out: the stored chunk, and writing its recipients as `queued` (idempotent). */
  readChunk(tenantId: string, broadcastId: string, chunk: number): Promise<readonly ChunkEntry[]>;
  /** Writes the chunk's recipients as queued (those already written are left alone); returns them. */
  expandChunk(broadcast: Broadcast, chunk: number, entries: readonly ChunkEntry[]): Promise<Recipient[]>;
  /** A scheduled broadcast whose time has come: scheduled → accepted (false when it was not scheduled). */
  startScheduled(tenantId: string, broadcastId: string): Promise<boolean>;
  /** Counts the chunk as expanded; moves the broadcast accepted → queued when it was the last one. */
  markChunkExpanded(broadcast: Broadcast, chunk: number): Promise<void>;

  getRecipient(key: RecipientKey): Promise<Recipient | undefined>;
  /** queued → sending for this attempt, with a lease; false when it was not queued at that attempt. */
  claim(key: RecipientKey, attempt: number, now: Date, leaseSeconds: number): Promise<MoveResult>;
  /** Records the provider's SID for this attempt (and indexes SID → recipient). */
  recordSid(key: RecipientKey, attempt: number, sid: string): Promise<void>;
  /** sending → queued, same attempt (rate limited: it will be delivered again). */
  releaseClaim(key: RecipientKey, attempt: number, now: Date): Promise<MoveResult>;
  /**
   * Moves a recipient forward (never backwards) to a status reported by the provider or
   * decided by us, with its timestamp and error; no-op when it would not advance.
   */
  advance(
    key: RecipientKey,
    to: Exclude<RecipientStatus, 'pending' | 'queued'>,
    details: {
      at: Date;
      errorCode?: number;
      errorMessage?: string;
      messageSid?: string;
      attempt?: number;
      /** With `failed`/`undelivered`: when the retry job may try again (indexed as a due retry). */
      retryAt?: Date;
      /** The recipient as the caller just read it: spares the first read (re-read only on a lost race). */
      current?: Recipient;
    },
  ): Promise<MoveResult>;
  findRecipientBySid(sid: string): Promise<MessageRef | undefined>;

  // The two-step flow: the confirmation tap, and the follow-up's own ledger (like the template's).
  /** Sets confirmedAt and the follow-up's first status, once; false when confirmed before. */
  confirm(key: RecipientKey, at: Date, followUp: 'queued' | 'expired'): Promise<MoveResult>;
  /** Follow-up queued → sending with a lease; false when it was not queued. */
  claimFollowUp(key: RecipientKey, now: Date, leaseSeconds: number): Promise<MoveResult>;
  /** Follow-up sending → queued (rate limited), unless a SID is known. */
  releaseFollowUpClaim(key: RecipientKey, now: Date): Promise<MoveResult>;
  /** Records the follow-up's SID (and indexes SID → recipient as a follow-up). */
  recordFollowUpSid(key: RecipientKey, sid: string): Promise<void>;
  /** Moves the follow-up forward only (canAdvanceFollowUp); no-op otherwise. */
  advanceFollowUp(
    key: RecipientKey,
    to: FollowUpStatus,
    details: {
      at: Date;
      errorCode?: number;
      errorMessage?: string;
      messageSid?: string;
      current?: Recipient;
    },
  ): Promise<MoveResult>;
  /** Marks the broadcast running (first claim) when it was accepted or queued. */
  markRunning(tenantId: string, broadcastId: string, now: Date): Promise<void>;
  /** Sets the final status when no recipient is in flight; returns it, or undefined when not final yet. */
  /**
   * With `movedOutOfFlight`, the recipient whose move prompted the check: while its counter shard
   * still has recipients in flight the broadcast cannot be final, and one read says so (instead of
   * summing every shard on every status callback).
   */
  finalizeIfDone(
    broadcast: Broadcast,
    now: Date,
    movedOutOfFlight?: RecipientKey,
  ): Promise<string | undefined>;

  // Retries, cancel and recovery.
  /** Recipients whose retry is due (from the due-retry index; never a table scan). */
  dueRetries(now: Date, limit: number): Promise<(RecipientKey & { attempt: number })[]>;
  /**
   * failed/undelivered at `attempt` → queued at `attempt + 1`, its retry (if scheduled) consumed;
   * false when it is not in that state any more.
   */
  requeueForRetry(key: RecipientKey, attempt: number, now: Date): Promise<MoveResult>;
  /** Forgets a scheduled retry (a cancelled broadcast): the recipient stays failed for good. */
  dropRetry(key: RecipientKey, attempt: number): Promise<void>;
  /** Not-yet-final → cancelled; false when it was final already. */
  cancelBroadcast(tenantId: string, broadcastId: string, now: Date): Promise<boolean>;
  /** Broadcasts not final yet, across tenants (sweeper) or for one tenant (metrics). */
  activeBroadcasts(tenantId?: string): Promise<Broadcast[]>;
  /** Chunks of the list not expanded yet (the sweeper re-enqueues their fan-out). */
  unexpandedChunks(broadcast: Broadcast): Promise<number[]>;
  /** Recipients of a broadcast in the given statuses (reads its recipients: for stalled broadcasts only). */
  recipientsIn(broadcast: Broadcast, statuses: readonly RecipientStatus[]): Promise<Recipient[]>;
  /** Remembers the counts the sweeper saw; returns whether they were the same as last time (stalled). */
  noteSweep(broadcast: Broadcast, countsSignature: string): Promise<boolean>;
  /** Sent and failed moves per minute for a tenant, for /v1/metrics (sentLast5m, failedLast5m). */
  recentActivity(tenantId: string, now: Date, minutes: number): Promise<{ sent: number; failed: number }>;
}

/** One accepted recipient as stored in a chunk of the list before fan-out. */
export interface ChunkEntry {
  readonly index: number;
  readonly phone: string;
  readonly contentVariables: Readonly<Record<string, string>>;
  /** On the tenant's suppression list at creation: written as `skipped`, never sent. */
  readonly skipped?: boolean;
}

/** A work queue (send tasks, fan-out tasks); consumers are idempotent, so at-least-once is enough. */
export interface TaskQueue<T> {
  enqueue(tasks: readonly T[]): Promise<void>;
}

/** Tenant API keys, stored hashed. */
export interface ApiKeyStore {
  /** The tenant a key hash belongs to, unless unknown or revoked. */
  tenantOf(keyHash: string): Promise<string | undefined>;
  putKey(tenantId: string, keyHash: string, now: Date): Promise<void>;
  revokeKey(keyHash: string, now: Date): Promise<boolean>;
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
  /** Adds (or replaces) the number's suppression. */
  suppress(suppression: Suppression): Promise<void>;
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
  /**
   * Records one inbound message (one entry per tenant it concerns) and marks its MessageSid as
   * handled, atomically; false when that MessageSid was handled before (a Twilio retry).
   */
  recordInbound(messageSid: string, entries: readonly ContactMessage[]): Promise<boolean>;
  /** Whether an inbound MessageSid was handled already. */
  inboundHandled(messageSid: string): Promise<boolean>;
  /** The contact's history for one tenant, newest first. */
  listMessages(
    tenantId: string,
    phone: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ items: ContactMessage[]; nextCursor?: string }>;
  /** Tenants that have messaged this contact, each with its latest message time (inbound routing). */
  tenantsOfContact(phone: string): Promise<{ tenantId: string; lastAt: string }[]>;
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
   * unless the last would lie beyond `nowMs + horizonMs`: then nothing is booked.
   */
  book(
    sender: string,
    request: { count: number; intervalMs: number; nowMs: number; horizonMs: number },
  ): Promise<
    | { readonly booked: true; readonly firstSlotAt: number; readonly state: PaceState }
    | { readonly booked: false; readonly nextFreeAt: number; readonly state: PaceState }
  >;
  /** Records a rate cut for everyone (ignored when another landed less than `debounceMs` ago). */
  cut(sender: string, cutMps: number, nowMs: number, debounceMs: number): Promise<void>;
}
