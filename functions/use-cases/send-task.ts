import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pLimit, { type LimitFunction } from 'p-limit';
import { z } from 'zod';
import type { HandlerLogger } from '../commons/powertools.ts';
import { redactPhones } from '../commons/powertools.ts';
import { KEEP_ANY_ENTRY, providerSuppression, skippedMessage } from '../core/contacts.ts';
import {
  foundSenderBusy,
  MAX_PACING_WAIT_MS,
  type Pace,
  SENDS_PER_INVOCATION,
  type SenderPacer,
  waitUntil,
} from '../core/pacing.ts';
import { maskPhone } from '../core/phones.ts';
import type {
  Broadcast,
  Broadcasts,
  ClaimResult,
  MessageIndex,
  Messenger,
  ProviderSendResult,
  Recipient,
  RecipientKey,
  SendTask,
} from '../core/ports.ts';
import { claimLeaseUntil } from '../core/recovery.ts';
import { retryDecision } from '../core/retry-policy.ts';
import { CONFIGURATION_CODES, classifySendOutcome } from '../core/send-outcome.ts';
import { AUTH_FAILURE_CODES, NO_METRICS, type ServiceMetrics } from '../core/service-metrics.ts';
import { sendsStopped } from '../core/statuses.ts';
import { adoptMessage, findClaimedMessage, type ReconcileDeps, type SendKind } from './reconcile-send.ts';
import { heldForQuietHours } from './send-window.ts';

/**
 * The send queue's consumer: one WhatsApp message per SendTask (the broadcast's template, or the
 * free-form follow-up after a confirmation tap), at most once (DESIGN.md "Send ledger"). Per record:
 *
 *   parse → broadcast (cancelled or paused: nothing sent, nothing written) → a slot in the sender's schedule
 *   (core/pacing.ts; none within this invocation: the task goes back on the queue, unclaimed)
 *   → claim queued→sending for the task's attempt (the first claim creates the ledger entry), reading
 *     the suppression list alongside (suppressed: `skipped`, nothing sent)
 *   → wait for the slot → check the broadcast again with a read newer than the claim (a cancel landed
 *     meanwhile: the claim is released, nothing sent) → one Twilio create with a per-message
 *     StatusCallback naming (broadcast, index, attempt, tenant)
 *   → accepted: nothing written for a plain template (the ledger learns the SID from the message's
 *     first callback); a two-step template writes the SID index ·
 *     429/20429/63018: claim released, the task back on the queue after a delay · another 4xx:
 *     `failed` with the code (and a retry when the code allows one) · 5xx/timeout/socket error: left
 *     `sending`, and the task back on the queue for when the claim's lease has run out.
 *
 * Nothing waits on the queue by failing: a task put back is a fresh message (its receive count starts
 * again), so only a task that keeps throwing (poison, or an outage) reaches the dead-letter queue.
 *
 * Recovery: a claim's lease ends after the invocation that made it (core/recovery.ts). A task that
 * finds its recipient `sending` for its attempt with the lease run out (the invocation died before it
 * deleted the task, or the answer was ambiguous) asks the provider first (reconcile-send.ts): the
 * message is adopted when it exists, and sent only when it does not.
 */
export interface SendConsumerDeps extends ReconcileDeps {
  readonly broadcasts: Broadcasts;
  readonly messageIndex: MessageIndex;
  /** The messenger of the broadcast's sender (its snapshot: the tenant's own account and sender, or the deployment's). */
  readonly messenger: (broadcast: Broadcast) => Promise<Messenger>;
  /** Puts the task back on the send queue as a new message, visible after `delaySeconds` (0–900). */
  readonly requeue: (task: SendTask, delaySeconds: number) => Promise<void>;
  /** Where Twilio posts this message's status callbacks (the status webhook, no trailing slash). */
  readonly statusCallbackBase: () => string;
  /** Paces sends per sender across every consumer; without it, sends are not paced. */
  readonly pacer?: SenderPacer;
  /** Records of one sender in flight at once within one invocation; default SENDS_PER_INVOCATION (25), as deployed. */
  readonly concurrency?: number;
  /** Below this much Lambda time left, a task is put back unclaimed; default 10 s. */
  readonly minRemainingMs?: number;
  readonly now?: () => Date;
  readonly random?: () => number;
  readonly logger: HandlerLogger;
  /** Sends, failures, rate limits, paced waits, latency (core/service-metrics.ts); none by default. */
  readonly metrics?: ServiceMetrics;
}

const sendTaskSchema = z.object({
  tenantId: z.string().min(1),
  broadcastId: z.string().min(1),
  index: z.number().int().nonnegative(),
  attempt: z.number().int().positive(),
  kind: z.enum(['template', 'followUp']).optional(),
  phone: z.string().min(2),
  variables: z.record(z.string(), z.string()).optional(),
  chunk: z.number().int().nonnegative().optional(),
  queuedAt: z.string().optional(),
  timeZone: z.string().optional(),
});

export function parseSendTask(body: string): SendTask | undefined {
  try {
    const parsed = sendTaskSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export const STATUS_WEBHOOK_PATH = '/webhooks/twilio/status';

/** The per-message StatusCallback: the query names the send, and Twilio's signature covers it. */
export function statusCallbackUrl(
  base: string,
  task: Pick<SendTask, 'tenantId' | 'broadcastId' | 'index' | 'attempt' | 'kind'>,
  options: { test?: boolean | undefined } = {},
): string {
  const query = new URLSearchParams({
    b: task.broadcastId,
    i: String(task.index),
    a: String(task.attempt),
    t: task.tenantId,
    ...(task.kind === 'followUp' ? { k: 'f' } : {}),
    // A test send's callbacks stay out of the metrics (status-callback.ts).
    ...(options.test ? { x: '1' } : {}),
  });
  return `${base.replace(/\/+$/, '')}${STATUS_WEBHOOK_PATH}?${query.toString()}`;
}

/** A task ready to send: its broadcast read, not stopped, its sender's messenger configured. */
interface PreparedSend {
  readonly task: SendTask;
  readonly kind: SendKind;
  readonly key: RecipientKey;
  readonly fields: Record<string, unknown>;
  readonly broadcast: Broadcast;
  readonly metrics: ServiceMetrics;
  readonly messenger: Messenger;
}

/** How old an invocation's read of a broadcast may be when a task starts. */
const BROADCAST_FRESH_MS = 1_000;
/** How long before its slot a send begins the read of its broadcast that decides on a cancel or pause. */
const BROADCAST_READ_LEAD_MS = 50;
/** A send this late for its slot (a stalled event loop) books a new one rather than crowd the next. */
const SLOT_LATE_TOLERANCE_MS = 20;
const MAX_SLOT_TRIES = 3;
/** Seconds before a task refused for the sender's configuration (bad credentials, no sender) tries again. */
const CONFIGURATION_RETRY_SECONDS = 60;
/** SQS's longest message delay. */
const MAX_DELAY_SECONDS = 900;

export function createSendConsumer(deps: SendConsumerDeps) {
  const log = deps.logger;
  const now = deps.now ?? (() => new Date());
  const concurrency = Math.max(1, deps.concurrency ?? SENDS_PER_INVOCATION);
  const minRemainingMs = deps.minRemainingMs ?? 10_000;

  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const invokedAt = Date.now();
    const deadline = invokedAt + (context?.getRemainingTimeInMillis() ?? 30_000);
    const leaseUntil = () => claimLeaseUntil(new Date(deadline));
    const remainingMs = () => deadline - Date.now();
    // Per invocation: a broadcast is read at most once a second, or anew when a send needs a read
    // newer than its claim; and marked running once.
    const reads = new Map<string, { read: Promise<Broadcast | undefined>; startedAt: number }>();
    const markedRunning = new Set<string>();
    // Sends in flight are limited per sender: a sender's tasks waiting for its slots (a tenant's own
    // number at 20/s) never hold up another sender's tasks in the same batch.
    const lanes = new Map<string, LimitFunction>();
    const laneOf = (sender: string): LimitFunction => {
      const lane = lanes.get(sender) ?? pLimit(concurrency);
      lanes.set(sender, lane);
      return lane;
    };
    const broadcastOf = (task: SendTask, newerThan = Date.now() - BROADCAST_FRESH_MS) => {
      const id = `${task.tenantId}/${task.broadcastId}`;
      let found = reads.get(id);
      if (!found || found.startedAt < newerThan) {
        const read = deps.broadcasts.get(task.tenantId, task.broadcastId);
        read.catch(() => reads.delete(id));
        found = { read, startedAt: Date.now() };
        reads.set(id, found);
      }
      return found.read;
    };
    const requeue = (task: SendTask, delaySeconds: number) =>
      deps.requeue(task, Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds))));

    /**
     * What this task sends and from which sender, or nothing: the broadcast unknown, stopped, or the
     * recipient inside quiet hours (held); Twilio not configured (put back).
     */
    const prepare = async (task: SendTask): Promise<PreparedSend | undefined> => {
      const kind: SendKind = task.kind ?? 'template';
      const key: RecipientKey = { tenantId: task.tenantId, broadcastId: task.broadcastId, index: task.index };
      const fields = {
        tenantId: task.tenantId,
        broadcastId: task.broadcastId,
        index: task.index,
        attempt: task.attempt,
        kind,
      };
      const broadcast = await broadcastOf(task);
      if (!broadcast || (kind === 'followUp' && !broadcast.followUp)) {
        log.warn('send task names an unknown broadcast or follow-up; dropped', fields);
        return;
      }
      // A test send is not the service's traffic: it stays out of the metrics.
      const metrics = broadcast.test ? NO_METRICS : (deps.metrics ?? NO_METRICS);
      if (stopped(broadcast, kind)) {
        // Nothing is written for a recipient never sent: the counts show a cancelled broadcast's queued
        // recipients as cancelled, and a resume enqueues a paused one's unsent recipients again
        // (broadcast-release.ts). A follow-up has its own ledger and ends `cancelled` in it.
        if (kind === 'followUp') await deps.followUps.report(key, { to: 'cancelled', at: now() });
        log.debug(`broadcast ${broadcast.status}; nothing sent`, fields);
        return;
      }
      // Inside the recipient's quiet hours by now: it waits for their end instead (send-window.ts).
      const quiet = await heldForQuietHours(task, broadcast, deps.ledger, now());
      if (quiet.held) {
        log.info('recipient inside its quiet hours; waits', { ...fields, until: quiet.until.toISOString() });
        return;
      }
      const messenger = await deps.messenger(broadcast);
      if (!messenger.configured) {
        // Not the recipient's fault, nor poison: it waits for the operator, on the queue.
        log.error('Twilio is not configured (account SID, auth token, sender); send task put back', fields);
        await requeue(task, CONFIGURATION_RETRY_SECONDS);
        return;
      }
      return { task, kind, key, fields, broadcast, metrics, messenger };
    };

    /** The slot, the claim, the send at the slot, and its outcome recorded. */
    const sendPrepared = async (prepared: PreparedSend): Promise<void> => {
      const { task, kind, key, fields, broadcast, metrics, messenger } = prepared;
      if (remainingMs() < minRemainingMs) {
        await requeue(task, 0);
        return;
      }

      // The slot comes first: no slot within this invocation's time, and the task goes back unclaimed.
      let pace: Pace | undefined;
      if (deps.pacer) {
        pace = await deps.pacer.acquire(
          messenger.sender,
          Math.max(0, Math.min(MAX_PACING_WAIT_MS, remainingMs() - minRemainingMs)),
          messenger.mps,
        );
        if (!pace.ok) {
          await requeue(task, pace.retryAfterMs / 1000);
          metrics.record('PacedWaits', 1, {});
          return;
        }
      }

      const claimedAt = now();
      const [claim, suppression] = await Promise.all([
        kind === 'followUp'
          ? deps.followUps.claim(key, claimedAt, leaseUntil())
          : deps.ledger.claim(task, claimedAt, leaseUntil()),
        deps.contacts.suppression(task.tenantId, task.phone),
      ]);
      const claimTime = Date.now();
      let recipient: Recipient;
      if (claim.claimed) recipient = claim.recipient;
      else {
        const recovered = await recoverAbandonedClaim(task, kind, claim, messenger, fields);
        if (!recovered) return;
        recipient = recovered;
      }
      const to = maskPhone(task.phone);
      if (suppression) {
        if (kind === 'followUp')
          await deps.followUps.report(key, {
            to: 'skipped',
            at: claimedAt,
            errorMessage: skippedMessage(suppression),
          });
        else await deps.ledger.skip(key, task.attempt, claimedAt, skippedMessage(suppression));
        log.info('recipient is on the suppression list; not sent', {
          ...fields,
          to,
          reason: suppression.reason,
        });
        return;
      }
      if (
        kind === 'template' &&
        !markedRunning.has(task.broadcastId) &&
        (broadcast.status === 'accepted' || broadcast.status === 'queued')
      ) {
        markedRunning.add(task.broadcastId);
        const first = await deps.broadcasts
          .markRunning(task.tenantId, task.broadcastId, claimedAt)
          .catch((error: unknown) =>
            log.warn('could not mark the broadcast running', { ...fields, error: String(error) }),
          );
        if (first) metrics.record('FirstSendLatency', firstSendLatencyMs(broadcast, claimedAt), {});
      }

      // A cancel or pause that landed after the claim must stop the send: decided on a read begun after
      // the claim and at most a second old, taken together with the slot (waitForSlot).
      let fresh: Broadcast | undefined;
      if (pace?.ok) ({ pace, fresh } = await waitForSlot(pace, prepared, claimTime));
      else fresh = await broadcastOf(task, Math.max(claimTime, Date.now() - BROADCAST_FRESH_MS));
      if (pace && !pace.ok) {
        // Late for its slot and no other within this invocation: back on the queue, unsent.
        if (kind === 'followUp') await deps.followUps.release(key, now());
        else await deps.ledger.release(key, task.attempt, now());
        await requeue(task, pace.retryAfterMs / 1000);
        metrics.record('PacedWaits', 1, {});
        return;
      }
      if (fresh && stopped(fresh, kind)) {
        const released =
          kind === 'followUp'
            ? await deps.followUps.release(key, now())
            : await deps.ledger.release(key, task.attempt, now());
        if (kind === 'followUp' && released) await deps.followUps.report(key, { to: 'cancelled', at: now() });
        // A resume may have come between that read and the release: its release task then saw this
        // recipient claimed and passed it by, and nobody would send it. A read begun after the release
        // decides: still paused, the resume to come will find it `queued`; resumed, it goes back on
        // the queue (a duplicate of a release task's is harmless: the claim admits one send).
        if (kind === 'template' && fresh.status === 'paused' && released) {
          const after = await broadcastOf(task, Date.now() + 1);
          if (after && !sendsStopped(after.status)) {
            await requeue(task, 0);
            log.info('broadcast resumed while this send released its claim; back on the queue', fields);
            return;
          }
        }
        log.info(`broadcast ${fresh.status} while this send waited for its slot; nothing sent`, fields);
        return;
      }
      if (remainingMs() <= 0) {
        // Past the invocation's deadline (Lambda would have stopped it): its lease ends soon and another
        // delivery may take the claim over, so this one must not send.
        if (kind === 'followUp') await deps.followUps.release(key, now());
        else await deps.ledger.release(key, task.attempt, now());
        await requeue(task, 0);
        log.warn('past the invocation deadline before the send; put back unsent', fields);
        return;
      }
      const statusCallback = statusCallbackUrl(deps.statusCallbackBase(), task, { test: broadcast.test });
      const result: ProviderSendResult =
        kind === 'followUp'
          ? await messenger.sendText({ to: task.phone, body: broadcast.followUp?.body ?? '', statusCallback })
          : await messenger.sendTemplate({
              to: task.phone,
              contentSid: broadcast.template.contentSid,
              contentVariables: task.variables ?? {},
              statusCallback,
            });
      const outcome = classifySendOutcome(result, deps.random ? { random: deps.random } : {});
      switch (outcome.action) {
        case 'record-sid': {
          log.info('message accepted by Twilio', { ...fields, to, messageSid: outcome.sid });
          metrics.record('MessagesSent', 1, {});
          await recordSent(recipient, kind, outcome.sid, broadcast, fields);
          return;
        }
        case 'requeue-rate-limited': {
          // The provider says we are over its rate: every consumer of this sender slows down.
          await deps.pacer
            ?.slowDown(messenger.sender, pace?.ok ? pace.pacedMps : undefined)
            .catch((error: unknown) => log.warn('could not record the rate cut', { error: String(error) }));
          const released =
            kind === 'followUp'
              ? await deps.followUps.release(key, now())
              : await deps.ledger.release(key, task.attempt, now());
          await requeue(task, outcome.delaySeconds);
          metrics.record('ProviderRateLimited', 1, {});
          log.info('rate limited by Twilio; send task put back', {
            ...fields,
            to,
            code: outcome.code,
            delaySeconds: outcome.delaySeconds,
            released,
          });
          return;
        }
        case 'fail-permanent': {
          if (AUTH_FAILURE_CODES.has(outcome.code))
            metrics.record('TwilioAuthFailures', 1, { Source: 'rest' });
          if (CONFIGURATION_CODES.has(outcome.code)) {
            // The account or sender is wrong, not the recipient: do not fail everyone one by one.
            if (kind === 'followUp') await deps.followUps.release(key, now());
            else await deps.ledger.release(key, task.attempt, now());
            await requeue(task, CONFIGURATION_RETRY_SECONDS);
            log.error('Twilio refused the sender or credentials; send task put back', {
              ...fields,
              to,
              errorCode: outcome.code,
              errorMessage: redactPhones(outcome.message),
            });
            return;
          }
          const at = now();
          // An opt-out code suppresses the number before the recipient is marked failed: if that write
          // fails, the task comes back with the recipient still `sending`, and its reconcile finds no
          // message at Twilio and asks again; a failed recipient would never be looked at again.
          const suppress = providerSuppression(
            { tenantId: task.tenantId, phone: task.phone },
            outcome.code,
            at,
          );
          if (suppress) await deps.contacts.suppress(suppress, KEEP_ANY_ENTRY);
          if (kind === 'followUp')
            await deps.followUps.report(key, {
              to: 'failed',
              at,
              errorCode: outcome.code,
              errorMessage: outcome.message,
            });
          else {
            // Refused now, yet maybe not for good (an unknown code is transient): the retry job decides when.
            const decision = retryDecision(outcome.code, task.phone, task.attempt, deps.backoffSeconds, at);
            await deps.ledger.report(key, {
              to: 'failed',
              at,
              attempt: task.attempt,
              errorCode: outcome.code,
              errorMessage: outcome.message,
              ...(decision.retry ? { retryAt: decision.at } : {}),
            });
            if (decision.retry) metrics.record('RetriesScheduled', 1, {});
          }
          metrics.record('MessagesFailed', 1, { ErrorCode: String(outcome.code) });
          log.warn('Twilio refused the message', {
            ...fields,
            to,
            errorCode: outcome.code,
            errorMessage: redactPhones(outcome.message),
          });
          return;
        }
        case 'ambiguous': {
          // Maybe sent: never resent blindly. The first callback adopts the SID through its query; if
          // none comes, this task comes back when the lease has run out and asks Twilio first.
          await requeue(task, (Date.parse(recipientLease(recipient, kind) ?? '') - Date.now()) / 1000 + 1);
          log.warn('ambiguous answer from Twilio; left sending, reconciled after the lease', {
            ...fields,
            to,
            reason: redactPhones(outcome.reason),
          });
          return;
        }
      }
    };

    /**
     * The claim was refused. A duplicate or stale task: nothing to do. A claim held by a live invocation
     * (lease running): the task comes back when the lease ends, so it is not lost if that invocation
     * dies. A claim whose lease ran out: the provider is asked; the message is adopted when it exists,
     * otherwise the claim is taken over and the send goes on (the recipient as claimed is returned).
     */
    const recoverAbandonedClaim = async (
      task: SendTask,
      kind: SendKind,
      claim: Extract<ClaimResult, { claimed: false }>,
      messenger: Messenger,
      fields: Record<string, unknown>,
    ): Promise<Recipient | undefined> => {
      const current = claim.current;
      const status = kind === 'followUp' ? current?.followUp?.status : current?.status;
      if (!current || status !== 'sending' || (kind === 'template' && current.attempts !== task.attempt)) {
        log.debug('duplicate or stale send task; nothing sent', { ...fields, status });
        return undefined;
      }
      const lease = Date.parse(recipientLease(current, kind) ?? '');
      if (lease > Date.now()) {
        await requeue(task, (lease - Date.now()) / 1000 + 1);
        log.debug('another invocation holds the claim; checked again when its lease ends', fields);
        return undefined;
      }
      const found = await findClaimedMessage(deps, messenger, current, kind);
      if (found) {
        const moved = await adoptMessage(deps, current, kind, found, now());
        log.warn('abandoned claim: the message was found at Twilio and adopted', {
          ...fields,
          messageSid: found.sid,
          providerStatus: found.status,
          moved,
        });
        return undefined;
      }
      const at = now();
      const newLease = leaseUntil();
      const taken =
        kind === 'followUp'
          ? await deps.followUps.takeOver(current, at, newLease)
          : await deps.ledger.takeOver(current, at, newLease);
      if (!taken) return undefined;
      log.warn('abandoned claim with no message at Twilio: sending now', fields);
      // The claim as taken over: its new lease too (an ambiguous answer waits for that one, not the old).
      const claimed = { claimedAt: at.toISOString(), leaseUntil: newLease.toISOString() };
      return kind === 'followUp'
        ? { ...current, followUp: { ...(current.followUp ?? { status: 'sending' }), ...claimed } }
        : { ...current, ...claimed };
    };

    /**
     * Where a reply must find this message by SID alone (a two-step template's tap), the SID index. The
     * ledger learns the SID from the message's first callback, and its history entry follows from there.
     */
    const recordSent = async (
      recipient: Recipient,
      kind: SendKind,
      sid: string,
      broadcast: Broadcast,
      fields: Record<string, unknown>,
    ) => {
      if (kind !== 'template' || !broadcast.followUp) return;
      try {
        await deps.messageIndex.index(sid, {
          tenantId: recipient.tenantId,
          broadcastId: recipient.broadcastId,
          index: recipient.index,
          kind,
        });
      } catch (error) {
        // Sent: never report this record as failed. A tap then finds nothing, which is logged where it happens.
        log.error('sent, but the SID index was not written', {
          ...fields,
          messageSid: sid,
          error: String(error),
        });
      }
    };

    /**
     * Waits for the booked slot with a fresh read of the broadcast (begun after the claim, at most a
     * second old) in hand. The read is begun just before the slot, so the send leaves on time rather
     * than a DynamoDB round trip after it, and one read serves every send claimed before it whose slot
     * comes within the second; a slot due sooner begins it at once. Lateness is judged after both: a
     * send that would leave more than the tolerance after its slot (a stalled event loop, a slow read
     * that several sends waited on together) books a new slot rather than crowd the next sends into
     * the provider's one-second window, a few times at most; each slot so left while the sender is
     * busy (foundSenderBusy) is MissedSendSlots.
     */
    const waitForSlot = async (
      booked: Pace & { ok: true },
      { messenger, task, metrics }: Pick<PreparedSend, 'messenger' | 'task' | 'metrics'>,
      claimTime: number,
    ): Promise<{ pace: Pace; fresh?: Broadcast | undefined }> => {
      let pace: Pace = booked;
      for (let tries = 1; pace.ok; tries++) {
        const leadMs = Math.min(BROADCAST_READ_LEAD_MS, Math.max(0, pace.at - Date.now()));
        await waitUntil(pace.at - leadMs);
        // A slot too near for the lead: the read begins once the claims answered together are all in
        // (the next turn of the event loop), so they share it rather than each begin their own.
        if (leadMs < BROADCAST_READ_LEAD_MS) await new Promise((resolve) => setImmediate(resolve));
        void broadcastOf(task, Math.max(claimTime, pace.at - BROADCAST_FRESH_MS)).catch(() => undefined);
        await waitUntil(pace.at);
        const fresh = await broadcastOf(task, Math.max(claimTime, Date.now() - BROADCAST_FRESH_MS));
        // Stopped (a cancel or pause): the claim is released now, not after another slot's wait.
        const late = Date.now() - pace.at > SLOT_LATE_TOLERANCE_MS;
        if (
          !late ||
          (fresh && stopped(fresh, task.kind ?? 'template')) ||
          tries >= MAX_SLOT_TRIES ||
          !deps.pacer
        )
          return { pace, fresh };
        pace = await deps.pacer.acquire(
          messenger.sender,
          Math.max(0, Math.min(MAX_PACING_WAIT_MS, remainingMs() - minRemainingMs)),
          messenger.mps,
        );
        // Capacity lost only while the sender is busy: the slot left lies inside a run of booked sends.
        if (foundSenderBusy(pace)) metrics.record('MissedSendSlots', 1, {});
      }
      return { pace };
    };

    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(
      event,
      async (record: SQSRecord) => {
        const task = parseSendTask(record.body);
        if (!task) {
          // A body that does not parse never will: redelivering it only poisons the queue.
          log.error('send task body is not a SendTask; dropped', { messageId: record.messageId });
          return;
        }
        try {
          const prepared = await prepare(task);
          if (prepared) await laneOf(prepared.messenger.sender)(() => sendPrepared(prepared));
        } catch (error) {
          log.error('send task failed; reported as a batch item failure', {
            messageId: record.messageId,
            tenantId: task.tenantId,
            broadcastId: task.broadcastId,
            index: task.index,
            error: error as Error,
          });
          throw error;
        }
      },
      processor,
      { ...(context ? { context } : {}), throwOnFullBatchFailure: false },
    );
  };
}

/**
 * Whether the broadcast's course stops this send: a cancel stops everything; a pause stops template
 * sends only, since a follow-up answers the recipient's own tap (and its 24-hour window would run out
 * during a long pause).
 */
function stopped(broadcast: Broadcast, kind: SendKind): boolean {
  return kind === 'followUp' ? broadcast.status === 'cancelled' : sendsStopped(broadcast.status);
}

/** From when the broadcast was due (created, or its scheduledAt) to its first claim, in ms (≥ 0). */
export function firstSendLatencyMs(broadcast: Broadcast, claimedAt: Date): number {
  const due = Math.max(Date.parse(broadcast.createdAt), Date.parse(broadcast.scheduledAt ?? '') || 0);
  return Math.max(0, claimedAt.getTime() - due);
}

function recipientLease(recipient: Recipient, kind: SendKind): string | undefined {
  return kind === 'followUp' ? recipient.followUp?.leaseUntil : recipient.leaseUntil;
}
