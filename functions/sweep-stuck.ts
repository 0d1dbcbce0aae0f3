import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { mapLimit, SqsTaskQueue } from './adapters/sqs-queues.ts';
import { intEnv, requiredEnv, retryBackoffSeconds } from './commons/config.ts';
import { logger as defaultLogger, type HandlerLogger } from './commons/powertools.ts';
import { broadcastStore, contactStore, sendTaskQueue, sqs, twilioMessenger } from './commons/wiring.ts';
import { sentMessageEntry } from './core/contacts.ts';
import { maskPhone } from './core/phones.ts';
import type {
  Broadcast,
  BroadcastStore,
  ContactStore,
  FanOutTask,
  Messenger,
  ProviderMessage,
  Recipient,
  RecipientKey,
  SendTask,
  TaskQueue,
} from './core/ports.ts';
import { retryDecision } from './core/retry-policy.ts';
import { IN_FLIGHT, providerStatusToRecipient } from './core/statuses.ts';

/**
 * The sweeper, run by an EventBridge rule every 5 minutes (locally by the twin's timer,
 * SWEEP_SCHEDULE_SECONDS). It puts back on the path what a lost SQS message or a crashed Lambda left
 * behind (DESIGN.md "Sweeper", "Send ledger"), without ever risking a second message:
 *
 * - chunks of a list still not expanded STALE seconds after the broadcast was created (or became
 *   due) → their FanOutTask again (fan-out is idempotent);
 * - only for a broadcast whose counts did not move since the previous sweep (`noteSweep`), its
 *   recipients in `queued`/`sending` are read:
 *   - `queued` for longer than STALE → its SendTask again (the claim admits one send per attempt);
 *   - `sending` past its lease with a SID → the message is fetched and its status applied (lost callbacks);
 *   - `sending` past its lease without a SID (ambiguous send, or a crash around the provider call) →
 *     Twilio's messages to that phone since the claim are listed: a match is adopted (SID + status),
 *     and only when there is none is the claim released and the SendTask enqueued again.
 *
 * One broadcast or recipient that fails is logged and skipped; the next run tries again.
 */
export interface SweepDeps {
  readonly store: BroadcastStore;
  /** Where an adopted send is added to the contact's history. */
  readonly contacts: ContactStore;
  readonly messenger: () => Promise<Messenger>;
  readonly sendQueue: TaskQueue<SendTask>;
  readonly fanOutQueue: TaskQueue<FanOutTask>;
  /** How long a recipient may sit in `queued` (or a chunk unexpanded) before it is presumed lost; default 900. */
  readonly staleSeconds?: number;
  /** How far before the claim Twilio's list is searched (clock skew between us and Twilio); default 60. */
  readonly reconcileSkewSeconds?: number;
  /** Retry windows for transient failures found by reconciliation (RETRY_BACKOFF_SECONDS). */
  readonly backoffSeconds?: readonly number[];
  /** Recipients worked on at once within one broadcast; default 8. */
  readonly concurrency?: number;
  /** Below this much Lambda time left, no further broadcast is started; default 30 s. */
  readonly minRemainingMs?: number;
  readonly now?: () => Date;
  readonly logger?: HandlerLogger;
}

export interface SweepSummary {
  /** Active broadcasts looked at (scheduled ones not yet due excluded). */
  readonly broadcasts: number;
  /** Of those, the ones whose counts had not moved since the previous sweep. */
  readonly stalled: number;
  readonly refannedChunks: number;
  /** `queued` recipients whose SendTask was enqueued again. */
  readonly requeued: number;
  /** `sending` recipients whose status (and SID, when adopted) was taken from Twilio. */
  readonly reconciled: number;
  /** Of the reconciled, those whose unrecorded SID was found in Twilio's list and adopted. */
  readonly adopted: number;
  /** Crashed claims with no message at Twilio: released and enqueued again. */
  readonly resent: number;
  /** Broadcasts this run moved to a final status. */
  readonly finalized: number;
  /** Broadcasts or recipients that failed in this run (logged; the next run tries again). */
  readonly errors: number;
}

interface Tally {
  broadcasts: number;
  stalled: number;
  refannedChunks: number;
  requeued: number;
  reconciled: number;
  adopted: number;
  resent: number;
  finalized: number;
  errors: number;
}

/** The counts as a stable string: the same counts always give the same signature. */
export function countsSignature(counts: Readonly<Record<string, number>>): string {
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(counts)
        .sort()
        .map((k) => [k, counts[k] ?? 0]),
    ),
  );
}

const ms = (iso: string | undefined): number => (iso ? Date.parse(iso) : Number.NaN);

export function createSweeper(deps: SweepDeps) {
  const log = deps.logger ?? defaultLogger;
  const staleMs = (deps.staleSeconds ?? 900) * 1000;
  const skewMs = (deps.reconcileSkewSeconds ?? 60) * 1000;
  const concurrency = Math.max(1, deps.concurrency ?? 8);
  const minRemainingMs = deps.minRemainingMs ?? 30_000;
  const clock = deps.now ?? (() => new Date());

  return async (context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SweepSummary> => {
    const tally: Tally = {
      broadcasts: 0,
      stalled: 0,
      refannedChunks: 0,
      requeued: 0,
      reconciled: 0,
      adopted: 0,
      resent: 0,
      finalized: 0,
      errors: 0,
    };
    const now = clock();
    let messenger: Promise<Messenger> | undefined;
    const messengerOnce = () => {
      messenger ??= deps.messenger();
      return messenger;
    };

    const active = await deps.store.activeBroadcasts();
    for (const broadcast of active) {
      if (context && context.getRemainingTimeInMillis() < minRemainingMs) {
        log.warn('sweep stopped early: little time left; the next run carries on', {
          remainingBroadcasts: active.length - tally.broadcasts,
        });
        break;
      }
      // Cancelled ones too: their lost fan-out and queue messages must still settle (as cancelled).
      const due = broadcast.scheduledAt ? ms(broadcast.scheduledAt) : Number.NaN;
      if (broadcast.status === 'scheduled' && !(due <= now.getTime())) continue;
      tally.broadcasts += 1;
      try {
        await sweepBroadcast(broadcast, now, tally, messengerOnce);
      } catch (error) {
        tally.errors += 1;
        log.error('sweep of a broadcast failed; the next run tries again', {
          tenantId: broadcast.tenantId,
          broadcastId: broadcast.broadcastId,
          error: error as Error,
        });
      }
    }
    const summary: SweepSummary = { ...tally };
    const worked =
      summary.refannedChunks + summary.requeued + summary.reconciled + summary.resent + summary.errors > 0;
    (worked ? log.info : log.debug).call(log, 'sweep run', { ...summary });
    return summary;
  };

  async function sweepBroadcast(
    broadcast: Broadcast,
    now: Date,
    tally: Tally,
    messenger: () => Promise<Messenger>,
  ): Promise<void> {
    const ids = { tenantId: broadcast.tenantId, broadcastId: broadcast.broadcastId };

    // 1. Fan-out that never happened (its SQS message lost, or its consumer crashed for good).
    if (broadcast.chunksExpanded < broadcast.chunkCount) {
      const since = Math.max(ms(broadcast.createdAt), ms(broadcast.scheduledAt) || 0);
      if (!(since > now.getTime() - staleMs)) {
        const chunks = await deps.store.unexpandedChunks(broadcast);
        if (chunks.length > 0) {
          await deps.fanOutQueue.enqueue(chunks.map((chunk) => ({ ...ids, chunk })));
          tally.refannedChunks += chunks.length;
          log.warn('unexpanded chunks fanned out again', { ...ids, chunks });
        }
      }
    }

    // 2. Stall detection: recipients are read only when nothing moved since the previous sweep.
    const { counts } = await deps.store.getCounts(broadcast);
    const stalled = await deps.store.noteSweep(broadcast, countsSignature(counts));
    if (!stalled) return;
    tally.stalled += 1;
    const inFlight = IN_FLIGHT.reduce((sum, s) => sum + (counts[s] ?? 0), 0);
    const recipients = inFlight > 0 ? await deps.store.recipientsIn(broadcast, ['queued', 'sending']) : [];

    const resend: SendTask[] = [];
    let moved = 0;
    await mapLimit(recipients, concurrency, async (recipient) => {
      try {
        const outcome = await sweepRecipient(recipient, now, messenger);
        if (outcome === 'requeue') {
          resend.push(taskOf(recipient));
          tally.requeued += 1;
        } else if (outcome === 'resend') {
          resend.push(taskOf(recipient));
          tally.resent += 1;
        } else if (outcome === 'reconciled' || outcome === 'adopted') {
          tally.reconciled += 1;
          if (outcome === 'adopted') tally.adopted += 1;
          moved += 1;
        }
      } catch (error) {
        tally.errors += 1;
        log.error('sweep of a recipient failed; the next run tries again', {
          ...ids,
          index: recipient.index,
          status: recipient.status,
          error: error as Error,
        });
      }
    });
    // A recipient released but not enqueued (this throws) stays `queued` with its old queuedAt:
    // the next stalled sweep enqueues it.
    await deps.sendQueue.enqueue(resend);
    if (resend.length > 0)
      log.warn('stalled broadcast: send tasks enqueued again', {
        ...ids,
        enqueued: resend.length,
        inspected: recipients.length,
      });

    // 3. Nothing in flight any more (or some moved): the broadcast may be final now.
    if (moved > 0 || inFlight === 0 || recipients.length === 0) {
      const final = await deps.store.finalizeIfDone(broadcast, clock());
      if (final) {
        tally.finalized += 1;
        log.info('broadcast finished (sweeper)', { ...ids, final });
      }
    }
  }

  type RecipientOutcome = 'none' | 'requeue' | 'resend' | 'reconciled' | 'adopted';

  async function sweepRecipient(
    listed: Recipient,
    now: Date,
    messenger: () => Promise<Messenger>,
  ): Promise<RecipientOutcome> {
    const key = keyOf(listed);
    if (listed.status === 'queued') {
      const since = ms(listed.queuedAt) || ms(listed.updatedAt);
      if (since > now.getTime() - staleMs) return 'none';
      // One line per recipient only at debug: a lost batch can be thousands; the broadcast's line counts them.
      log.debug('recipient stuck in queued; send task enqueued again', fieldsOf(listed));
      return 'requeue';
    }
    if (listed.status !== 'sending') return 'none';
    if (!(ms(listed.leaseUntil) < now.getTime())) return 'none';

    // The list read was not consistent and time has passed: decide on a fresh read of the ledger.
    const recipient = await deps.store.getRecipient(key);
    if (
      recipient?.status !== 'sending' ||
      recipient.attempts !== listed.attempts ||
      !(ms(recipient.leaseUntil) < now.getTime())
    )
      return 'none';
    const fields = fieldsOf(recipient);
    const provider = await messenger();
    if (!provider.configured) throw new Error('Twilio is not configured; a stuck send cannot be reconciled');

    if (recipient.messageSid) {
      const message = await provider.fetchMessage(recipient.messageSid);
      if (!message) {
        // A recorded SID Twilio does not know: never resend on a guess; an operator must look.
        log.error('a recorded MessageSid is unknown to Twilio; recipient left sending', {
          ...fields,
          messageSid: recipient.messageSid,
        });
        return 'none';
      }
      const applied = await applyProviderStatus(key, recipient, message);
      log.info('lost status callbacks made up from Twilio', {
        ...fields,
        messageSid: message.sid,
        providerStatus: message.status,
        moved: applied,
      });
      return applied ? 'reconciled' : 'none';
    }

    // No SID: was the message created anyway (5xx after acceptance, timeout, crash)? Ask Twilio first.
    const claimedAt = ms(recipient.claimedAt) || ms(recipient.updatedAt);
    const since = new Date(claimedAt - skewMs);
    const candidates = await provider.findMessages(recipient.phone, since);
    const match = await firstUnclaimed(candidates, key);
    if (match) {
      await deps.store.recordSid(key, recipient.attempts, match.sid);
      await deps.contacts.recordMessage(sentMessageEntry(recipient, 'template', match.sid));
      const applied = await applyProviderStatus(key, recipient, match);
      log.warn('ambiguous send reconciled: the message was found at Twilio and adopted', {
        ...fields,
        messageSid: match.sid,
        providerStatus: match.status,
        moved: applied,
      });
      return 'adopted';
    }
    // Twilio has no message for this claim: only now is a resend safe.
    const released = await deps.store.releaseClaim(key, recipient.attempts, clock());
    if (!released.moved) return 'none';
    log.warn('crashed claim with no message at Twilio: released and enqueued again', fields);
    return 'resend';
  }

  /** The earliest candidate whose SID is not recorded for another recipient (same phone, other broadcast). */
  async function firstUnclaimed(
    candidates: readonly ProviderMessage[],
    key: RecipientKey,
  ): Promise<ProviderMessage | undefined> {
    const ordered = [...candidates].sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime());
    for (const candidate of ordered) {
      const owner = await deps.store.findRecipientBySid(candidate.sid);
      // A follow-up to the same phone is another message, even from the same recipient.
      if (
        !owner ||
        (owner.kind === 'template' &&
          owner.tenantId === key.tenantId &&
          owner.broadcastId === key.broadcastId &&
          owner.index === key.index)
      )
        return candidate;
    }
    return undefined;
  }

  /** Moves the recipient to what Twilio reports (never backwards); whether it moved. */
  async function applyProviderStatus(
    key: RecipientKey,
    recipient: Recipient,
    message: ProviderMessage,
  ): Promise<boolean> {
    const to = providerStatusToRecipient(message.status);
    if (!to) return false; // queued/accepted/sending at Twilio: still on its way, the callback will come
    const at = clock();
    // A transient failure is scheduled for the retry job in the same write, as the status webhook does.
    const decision =
      to === 'failed' || to === 'undelivered'
        ? retryDecision(
            message.errorCode,
            recipient.phone,
            recipient.attempts,
            deps.backoffSeconds ?? retryBackoffSeconds(),
            at,
          )
        : undefined;
    const result = await deps.store.advance(key, to, {
      at,
      messageSid: message.sid,
      attempt: recipient.attempts,
      ...(message.errorCode !== undefined ? { errorCode: message.errorCode } : {}),
      ...(decision?.retry ? { retryAt: decision.at } : {}),
    });
    return result.moved;
  }
}

function keyOf(r: Recipient): RecipientKey {
  return { tenantId: r.tenantId, broadcastId: r.broadcastId, index: r.index };
}

function taskOf(r: Recipient): SendTask {
  return { tenantId: r.tenantId, broadcastId: r.broadcastId, index: r.index, attempt: r.attempts };
}

function fieldsOf(r: Recipient): Record<string, unknown> {
  return {
    tenantId: r.tenantId,
    broadcastId: r.broadcastId,
    index: r.index,
    attempt: r.attempts,
    status: r.status,
    to: maskPhone(r.phone),
  };
}

let live: ReturnType<typeof createSweeper> | undefined;

/** The EventBridge rule's target (locally: the twin's timer with the same event shape). */
export const handler = middy(async (_event: unknown, context?: Context): Promise<SweepSummary> => {
  live ??= createSweeper({
    store: broadcastStore(),
    contacts: contactStore(),
    messenger: () => twilioMessenger(),
    sendQueue: sendTaskQueue(),
    fanOutQueue: new SqsTaskQueue<FanOutTask>(sqs(), requiredEnv('FAN_OUT_QUEUE_URL')),
    staleSeconds: intEnv('SWEEP_STALE_SECONDS', 900),
  });
  return live(context);
}).use(injectLambdaContext(defaultLogger, { resetKeys: true }));
