import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { DynamoSenderSchedule } from './adapters/dynamo-sender-schedule.ts';
import { changeVisibility, queueUrlFromArn } from './adapters/sqs-queues.ts';
import { intEnv, optionalEnv, publicBaseUrl, requiredEnv, retryBackoffSeconds } from './commons/config.ts';
import { logger as defaultLogger, type HandlerLogger, redactPhones } from './commons/powertools.ts';
import {
  broadcastStore,
  contactStore,
  dynamoDocumentClient,
  sqs,
  twilioMessenger,
} from './commons/wiring.ts';
import { providerSuppression, sentMessageEntry, skippedMessage } from './core/contacts.ts';
import { DEFAULT_SENDER_MPS, type Pace, SenderPacer, waitUntil } from './core/pacing.ts';
import { maskPhone } from './core/phones.ts';
import type {
  Broadcast,
  BroadcastStore,
  ContactStore,
  Messenger,
  MoveResult,
  ProviderSendResult,
  Recipient,
  RecipientKey,
  SendTask,
} from './core/ports.ts';
import { retryDecision } from './core/retry-policy.ts';
import { CONFIGURATION_CODES, classifySendOutcome } from './core/send-outcome.ts';

/**
 * The send queue's consumer: one WhatsApp message per SendTask (the broadcast's template, or the
 * free-form follow-up after a confirmation tap), at most once (DESIGN.md "Send ledger"). Per record:
 *
 *   parse → recipient → broadcast (cancelled? → cancel the recipient, send nothing)
 *   → claim queued→sending for this attempt (not moved: duplicate or stale delivery, send nothing),
 *     reading the suppression list alongside (on it → `skipped`, send nothing)
 *   → book this send's slot in the sender's schedule and wait for it (core/pacing.ts: all consumers
 *     together stay at the sender's messages per second)
 *   → one Twilio create with a per-message StatusCallback naming (broadcast, index, attempt, tenant)
 *   → accepted: record the SID · 429/20429/63018: release the claim, make the message visible again
 *     after the delay and report it as a batch item failure · other 4xx: `failed` with the code ·
 *     5xx/timeout/socket error: stay `sending` (the callback adopts the SID; the sweeper reconciles).
 *
 * A record that throws is reported alone (ReportBatchItemFailures); the others carry on.
 */
export interface SendConsumerDeps {
  readonly store: BroadcastStore;
  /** The suppression list, read right before each send, and the contact history each send is added to. */
  readonly contacts: ContactStore;
  readonly messenger: () => Promise<Messenger>;
  /** Makes the record's message visible again after `delaySeconds` (ChangeMessageVisibility). */
  readonly requeue: (record: SQSRecord, delaySeconds: number) => Promise<void>;
  readonly publicBaseUrl: () => string;
  /** Paces sends per sender across every consumer (core/pacing.ts); without it, sends are not paced. */
  readonly pacer?: SenderPacer;
  /** Retry windows for transient failures (RETRY_BACKOFF_SECONDS). */
  readonly backoffSeconds?: readonly number[];
  /** How long a claim holds before the sweeper may look at it; default 300 s. */
  readonly leaseSeconds?: number;
  /** Records in flight at once within one invocation; default 10. */
  readonly concurrency?: number;
  /** Below this much Lambda time left, a record is put back unclaimed; default 15 s. */
  readonly minRemainingMs?: number;
  readonly now?: () => Date;
  readonly random?: () => number;
  readonly logger?: HandlerLogger;
}

const sendTaskSchema = z.object({
  tenantId: z.string().min(1),
  broadcastId: z.string().min(1),
  index: z.number().int().nonnegative(),
  attempt: z.number().int().positive(),
  kind: z.enum(['template', 'followUp']).optional(),
});

/** Thrown for a record that was deliberately put back on the queue: a batch item failure, not an error. */
export class RequeuedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RequeuedError';
  }
}

/** How old an invocation's read of a broadcast may be when a send checks it was not cancelled. */
const BROADCAST_FRESH_MS = 1_000;
/** The longest a send task waits in the Lambda for its slot before it goes back to the queue instead. */
const MAX_PACING_WAIT_MS = 10_000;
/**
 * A send this late for its slot (a stalled event loop) books a new one instead: sent late, it would
 * crowd the next second's sends past the provider's limit. Kept under the headroom's 30 ms a second.
 */
const SLOT_LATE_TOLERANCE_MS = 20;
const MAX_SLOT_TRIES = 3;

/** Books a slot and waits for it; a slot missed by more than the tolerance is booked again (a few times). */
async function pacedSlot(pacer: SenderPacer, sender: string, horizonMs: number): Promise<Pace> {
  for (let tries = 1; ; tries++) {
    const pace = await pacer.acquire(sender, horizonMs);
    if (!pace.ok) return pace;
    await waitUntil(pace.at);
    if (Date.now() - pace.at <= SLOT_LATE_TOLERANCE_MS || tries >= MAX_SLOT_TRIES) return pace;
  }
}

/** Seconds a configuration failure (bad credentials, no WhatsApp sender) waits before the next try. */
const CONFIGURATION_RETRY_SECONDS = 60;

export const STATUS_WEBHOOK_PATH = '/webhooks/twilio/status';

/** The per-message StatusCallback: the query names the send, and Twilio's signature covers it. */
export function statusCallbackUrl(base: string, task: SendTask): string {
  const query = new URLSearchParams({
    b: task.broadcastId,
    i: String(task.index),
    a: String(task.attempt),
    t: task.tenantId,
    ...(task.kind === 'followUp' ? { k: 'f' } : {}),
  });
  return `${base.replace(/\/+$/, '')}${STATUS_WEBHOOK_PATH}?${query.toString()}`;
}

export function parseSendTask(body: string): SendTask | undefined {
  try {
    const parsed = sendTaskSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One ledger a send task moves through: the template's (status, attempts) or the follow-up's
 * (`recipient.followUp`). The send flow is the same for both: claim, check, one call, record.
 */
interface SendTrack {
  /** Still waiting to be sent by this task (not a duplicate or a stale attempt). */
  waiting(): boolean;
  cancel(at: Date): Promise<MoveResult>;
  claim(at: Date): Promise<MoveResult>;
  skip(at: Date, why: string): Promise<void>;
  send(messenger: Messenger, statusCallback: string): Promise<ProviderSendResult>;
  recordSid(sid: string): Promise<void>;
  release(at: Date): Promise<MoveResult>;
  fail(at: Date, code: number, message: string): Promise<void>;
}

const recipientKeyOf = (r: Recipient): RecipientKey => ({
  tenantId: r.tenantId,
  broadcastId: r.broadcastId,
  index: r.index,
});

/** A tiny semaphore: at most `limit` callers inside at once. */
function limiter(limit: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export function createSendHandler(deps: SendConsumerDeps) {
  const log = deps.logger ?? defaultLogger;
  const now = deps.now ?? (() => new Date());
  const leaseSeconds = deps.leaseSeconds ?? 300;
  const concurrency = Math.max(1, deps.concurrency ?? 10);
  const minRemainingMs = deps.minRemainingMs ?? 15_000;

  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    // Per invocation: a broadcast is read at most once a second (a cancel reaches records waiting
    // for their send slots within that), and marked running once.
    const broadcasts = new Map<string, { read: Promise<Broadcast | undefined>; at: number }>();
    const markedRunning = new Set<string>();
    const slot = limiter(concurrency);
    const broadcastOf = (tenantId: string, broadcastId: string) => {
      const id = `${tenantId}/${broadcastId}`;
      let found = broadcasts.get(id);
      if (!found || Date.now() - found.at > BROADCAST_FRESH_MS) {
        const read = deps.store.getBroadcast(tenantId, broadcastId);
        read.catch(() => broadcasts.delete(id));
        found = { read, at: Date.now() };
        broadcasts.set(id, found);
      }
      return found.read;
    };

    const processRecord = async (record: SQSRecord): Promise<void> => {
      const task = parseSendTask(record.body);
      if (!task) {
        // Dropped: a body that does not parse will never parse; redelivering it only poisons the queue.
        log.error('send task body is not a SendTask; dropped', { messageId: record.messageId });
        return;
      }
      const key: RecipientKey = { tenantId: task.tenantId, broadcastId: task.broadcastId, index: task.index };
      const kind = task.kind ?? 'template';
      const fields = {
        tenantId: task.tenantId,
        broadcastId: task.broadcastId,
        index: task.index,
        attempt: task.attempt,
        kind,
      };

      const [recipient, broadcast] = await Promise.all([
        deps.store.getRecipient(key),
        broadcastOf(task.tenantId, task.broadcastId),
      ]);
      if (!recipient || !broadcast || (kind === 'followUp' && !broadcast.followUp)) {
        log.warn('send task names an unknown recipient, broadcast or follow-up; dropped', fields);
        return;
      }
      const track =
        kind === 'followUp' ? followUpTrack(recipient, broadcast) : templateTrack(recipient, broadcast, task);
      if (!track.waiting()) {
        // Cheap early exit for duplicates and stale attempts; the claim below is what decides.
        log.debug('duplicate or stale send task; nothing sent', { ...fields, status: recipient.status });
        return;
      }
      if (broadcast.status === 'cancelled') {
        const moved = await track.cancel(now());
        log.info('broadcast cancelled; nothing sent', { ...fields, cancelled: moved.moved });
        return;
      }

      const messenger = await deps.messenger();
      if (!messenger.configured) {
        // Nothing claimed: the message comes back and, if Twilio stays unconfigured, ends in the DLQ.
        log.error('Twilio is not configured (account SID, auth token, sender); send task put back', fields);
        await deps.requeue(record, CONFIGURATION_RETRY_SECONDS);
        throw new RequeuedError('provider not configured');
      }
      if (context && context.getRemainingTimeInMillis() < minRemainingMs) {
        await deps.requeue(record, 0);
        throw new RequeuedError('not enough time left in this invocation');
      }
      const claimedAt = now();
      // The suppression list is read alongside the claim: as fresh as it can be before the call.
      const [claim, suppression] = await Promise.all([
        track.claim(claimedAt),
        deps.contacts.suppression(task.tenantId, recipient.phone),
      ]);
      if (!claim.moved) {
        log.debug('claim lost: duplicate or stale delivery; nothing sent', fields);
        return;
      }
      const to = maskPhone(recipient.phone);
      if (suppression) {
        await track.skip(claimedAt, skippedMessage(suppression));
        log.info('recipient is on the suppression list; not sent', {
          ...fields,
          to,
          reason: suppression.reason,
        });
        if (kind === 'template') await deps.store.finalizeIfDone(broadcast, claimedAt, key);
        return;
      }
      // From here on nothing may throw before the provider call: a claimed recipient whose message is
      // redelivered is skipped, so a throw would leave it to the sweeper.
      if (
        kind === 'template' &&
        !markedRunning.has(broadcast.broadcastId) &&
        (broadcast.status === 'accepted' || broadcast.status === 'queued')
      ) {
        markedRunning.add(broadcast.broadcastId);
        await deps.store
          .markRunning(task.tenantId, task.broadcastId, claimedAt)
          .catch((error: unknown) =>
            log.warn('could not mark the broadcast running', { ...fields, error: String(error) }),
          );
      }

      if (deps.pacer) {
        // The send's slot in the sender's schedule, booked right before the call so that the spacing
        // the provider sees is the schedule's. No slot within this invocation's time (or the schedule
        // failing): the claim is released and the task goes back to the queue, delayed, never failed.
        const horizonMs = Math.min(
          MAX_PACING_WAIT_MS,
          (context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY) - minRemainingMs,
        );
        const pace = await pacedSlot(deps.pacer, messenger.sender, Math.max(0, horizonMs)).catch(
          async (error: unknown) => {
            await track.release(now());
            throw error;
          },
        );
        if (!pace.ok) {
          await track.release(now());
          await deps.requeue(record, Math.ceil(pace.retryAfterMs / 1000));
          throw new RequeuedError('the sender is booked beyond this invocation');
        }
        // The wait may have been long enough for a cancel to land: nothing is sent after one.
        if ((await broadcastOf(task.tenantId, task.broadcastId))?.status === 'cancelled') {
          await track.release(now());
          await track.cancel(now());
          log.info('broadcast cancelled while this send waited for its slot; nothing sent', fields);
          return;
        }
      }
      const statusCallback = statusCallbackUrl(deps.publicBaseUrl(), task);
      const result = await track.send(messenger, statusCallback);
      const outcome = classifySendOutcome(result, deps.random ? { random: deps.random } : {});

      switch (outcome.action) {
        case 'record-sid': {
          try {
            await track.recordSid(outcome.sid);
            log.info('message accepted by Twilio', { ...fields, to, messageSid: outcome.sid });
          } catch (error) {
            // Sent: never report this record as failed. The first status callback adopts the SID.
            log.error('message sent but its SID was not recorded; the status callback will adopt it', {
              ...fields,
              to,
              messageSid: outcome.sid,
              error: String(error),
            });
            return;
          }
          const claimed = { ...recipient, claimedAt: claimedAt.toISOString() };
          const sent =
            kind === 'followUp'
              ? { ...claimed, followUp: { status: 'sending' as const, claimedAt: claimedAt.toISOString() } }
              : claimed;
          await deps.contacts
            .recordMessage(sentMessageEntry(sent, kind, outcome.sid))
            .catch((error: unknown) =>
              log.warn('sent, but not recorded in the contact history', { ...fields, error: String(error) }),
            );
          return;
        }
        case 'requeue-rate-limited': {
          // The provider says we are over its rate: every consumer of this sender slows down.
          await deps.pacer
            ?.slowDown(messenger.sender)
            .catch((error: unknown) => log.warn('could not record the rate cut', { error: String(error) }));
          const released = await track.release(now());
          await deps.requeue(record, outcome.delaySeconds);
          log.info('rate limited by Twilio; send task put back', {
            ...fields,
            to,
            code: outcome.code,
            delaySeconds: outcome.delaySeconds,
            released: released.moved,
          });
          throw new RequeuedError(`rate limited (${outcome.code})`);
        }
        case 'fail-permanent': {
          if (CONFIGURATION_CODES.has(outcome.code)) {
            // The account or sender is wrong, not the recipient: do not fail everyone one by one.
            await track.release(now());
            await deps.requeue(record, CONFIGURATION_RETRY_SECONDS);
            log.error('Twilio refused the sender or credentials; send task put back', {
              ...fields,
              to,
              errorCode: outcome.code,
              errorMessage: redactPhones(outcome.message),
            });
            throw new RequeuedError(`configuration error (${outcome.code})`);
          }
          const at = now();
          await track.fail(at, outcome.code, outcome.message);
          log.warn('Twilio refused the message', {
            ...fields,
            to,
            errorCode: outcome.code,
            errorMessage: redactPhones(outcome.message),
          });
          const suppress = providerSuppression(recipient, outcome.code, at);
          if (suppress) await deps.contacts.suppress(suppress);
          if (kind === 'template') await deps.store.finalizeIfDone(broadcast, at, key);
          return;
        }
        case 'ambiguous': {
          // Maybe sent: no resend. The callback's query lets it adopt the SID; the sweeper reconciles.
          log.warn('ambiguous answer from Twilio; left sending, not resent', {
            ...fields,
            to,
            reason: redactPhones(outcome.reason),
          });
          return;
        }
      }
    };

    /** The template's ledger: status and attempts on the recipient; failures may be retried. */
    const templateTrack = (recipient: Recipient, broadcast: Broadcast, task: SendTask): SendTrack => {
      const key = recipientKeyOf(recipient);
      const attempt = task.attempt;
      return {
        waiting: () => recipient.status === 'queued' && recipient.attempts === attempt,
        cancel: (at) => deps.store.advance(key, 'cancelled', { at, attempt }),
        claim: (at) => deps.store.claim(key, attempt, at, leaseSeconds),
        skip: async (at, why) => {
          await deps.store.advance(key, 'skipped', { at, attempt, errorMessage: why });
        },
        send: (messenger, statusCallback) =>
          messenger.sendTemplate({
            to: recipient.phone,
            contentSid: broadcast.template.contentSid,
            contentVariables: recipient.contentVariables,
            statusCallback,
          }),
        recordSid: (sid) => deps.store.recordSid(key, attempt, sid),
        release: (at) => deps.store.releaseClaim(key, attempt, at),
        fail: async (at, code, message) => {
          // Refused now, yet maybe not for good (an unknown code is transient): the retry job decides when.
          const decision = retryDecision(
            code,
            recipient.phone,
            attempt,
            deps.backoffSeconds ?? retryBackoffSeconds(),
            at,
          );
          await deps.store.advance(key, 'failed', {
            at,
            errorCode: code,
            errorMessage: message,
            attempt,
            ...(decision.retry ? { retryAt: decision.at } : {}),
          });
        },
      };
    };

    /** The follow-up's ledger (`recipient.followUp`): sent once, never retried (its window closes). */
    const followUpTrack = (recipient: Recipient, broadcast: Broadcast): SendTrack => {
      const key = recipientKeyOf(recipient);
      return {
        waiting: () => recipient.followUp?.status === 'queued',
        cancel: (at) => deps.store.advanceFollowUp(key, 'cancelled', { at }),
        claim: (at) => deps.store.claimFollowUp(key, at, leaseSeconds),
        skip: async (at, why) => {
          await deps.store.advanceFollowUp(key, 'skipped', { at, errorMessage: why });
        },
        send: (messenger, statusCallback) =>
          messenger.sendText({ to: recipient.phone, body: broadcast.followUp?.body ?? '', statusCallback }),
        recordSid: (sid) => deps.store.recordFollowUpSid(key, sid),
        release: (at) => deps.store.releaseFollowUpClaim(key, at),
        fail: async (at, code, message) => {
          await deps.store.advanceFollowUp(key, 'failed', { at, errorCode: code, errorMessage: message });
        },
      };
    };

    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(
      event,
      async (record: SQSRecord) => {
        try {
          await slot(() => processRecord(record));
        } catch (error) {
          if (!(error instanceof RequeuedError))
            log.error('send task failed; reported as a batch item failure', {
              messageId: record.messageId,
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

let live: ReturnType<typeof createSendHandler> | undefined;

/** Each invocation logs as this function (locally, every handler shares the process's Logger). */
export const handler = middy(async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  live ??= createSendHandler({
    store: broadcastStore(),
    contacts: contactStore(),
    messenger: () => twilioMessenger(),
    publicBaseUrl: () => publicBaseUrl(),
    pacer: new SenderPacer(new DynamoSenderSchedule(dynamoDocumentClient(), requiredEnv('TABLE_NAME')), {
      configuredMps: intEnv('SENDER_MPS', DEFAULT_SENDER_MPS),
    }),
    leaseSeconds: intEnv('SEND_LEASE_SECONDS', 300),
    concurrency: intEnv('SEND_CONCURRENCY', 10),
    requeue: (record, delaySeconds) =>
      changeVisibility(
        sqs(),
        queueUrlFromArn(record.eventSourceARN, optionalEnv('SEND_QUEUE_URL')),
        record.receiptHandle,
        delaySeconds,
      ),
  });
  return live(event, context);
}).use(injectLambdaContext(defaultLogger, { resetKeys: true }));
