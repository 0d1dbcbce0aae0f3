import { SqsTaskQueue } from '../adapters/sqs-queues.ts';
import type { CreateBroadcastInput } from '../core/broadcast-request.ts';
import { planCanary } from '../core/canary.ts';
import { chunkEntries } from '../core/chunks.ts';
import { ApiError } from '../core/errors.ts';
import {
  bodyFingerprint,
  explicitIdempotencyKey,
  idempotencyExpiresAt,
  requestFingerprint,
} from '../core/idempotency.ts';
import { newBroadcastId } from '../core/ids.ts';
import { mergeBook } from '../core/messaging-limit.ts';
import type { Broadcast, Broadcasts, ChunkEntry, FanOutTask } from '../core/ports.ts';
import { startScheduleOf } from '../core/scheduled-start.ts';
import { checkTemplateInRegistry } from '../core/template-check.ts';
import { planFor, timingOf } from './broadcast-planning.ts';
import { requiredEnv } from './config.ts';
import { logger } from './powertools.ts';
import { templateRegistry } from './template-wiring.ts';
import { senderForNewBroadcast } from './tenant-twilio-wiring.ts';
import { broadcasts, schedules, sendHistory, sqs } from './wiring.ts';

/** The 202 lists at most this many accepted recipients, and this many invalid ones. */
const ITEMS_SHOWN = 100;

/** What POST /v1/broadcasts answers with 202 (API.md): the proof of what was accepted, and what not. */
export type BroadcastProof = ReturnType<typeof proofOf>;

/**
 * Accepts a validated broadcast for a tenant: the one way a broadcast comes to exist (POST
 * /v1/broadcasts, and anything else that creates one). Validates and normalizes everything before
 * writing anything (the template too, against Twilio's Content API: core/template-check.ts), stores
 * the broadcast and its list in chunks (a few writes, whatever the size), and hands the chunks to the
 * fan-out queue; recipients and send tasks are written afterwards (functions/fan-out.ts).
 *
 * `test`: a test send (broadcast-control.ts acceptTestSend): marked `test: true`, never the same
 * request as a real broadcast to those phones.
 *
 * `idempotencyKey` is the client's key (API.md: ≤ 255 characters): the same key and body answer with
 * the first broadcast (`idempotent: true`), another body is 409 IDEMPOTENCY_CONFLICT. Throws
 * ApiError for every refusal (API.md's codes); nothing is written then.
 */
export async function acceptBroadcast(
  tenantId: string,
  input: CreateBroadcastInput,
  options: {
    idempotencyKey?: string;
    now?: Date;
    /** A campaign's run (use-cases/campaign-run.ts): kept on the broadcast, part of its fingerprint. */
    campaign?: { campaignId: string; scheduledFor: string };
    /** A test send (commons/broadcast-control.ts): not in caps, the messaging limit or the history. */
    test?: boolean;
  } = {},
): Promise<BroadcastProof> {
  const now = options.now ?? new Date();
  const store = broadcasts();
  const test = options.test === true;
  const fingerprint = requestFingerprint(tenantId, { ...input, campaign: options.campaign, test });
  const wholeBody = bodyFingerprint(tenantId, { ...input, campaign: options.campaign, test });
  const idempotencyKey = options.idempotencyKey
    ? explicitIdempotencyKey(tenantId, options.idempotencyKey)
    : undefined;
  // A repeat answers with the first broadcast before anything else is checked or written. A key never
  // makes a duplicate more likely than no key: a keyed request identical to a keyless one sent within
  // the window is that broadcast too (and the key is remembered for it).
  if (idempotencyKey) {
    const earlier = await store.findByIdempotencyKey(tenantId, idempotencyKey);
    if (earlier) return repeatOf(store, tenantId, earlier.broadcastId, earlier.fingerprint === wholeBody);
  }
  const identical = await store.findByFingerprint(tenantId, fingerprint, now);
  if (identical) {
    if (idempotencyKey) await store.rememberKey(tenantId, idempotencyKey, identical, wholeBody);
    return repeatOf(store, tenantId, identical, true);
  }

  // The tenant's sender as it is now: the broadcast keeps it, whatever the settings become meanwhile.
  const { sender, configured } = await senderForNewBroadcast(tenantId);
  if (!configured)
    throw new ApiError(
      'PROVIDER_NOT_CONFIGURED',
      sender?.accountSid
        ? `No auth token is stored for this tenant's Twilio account ${sender.accountSid}: set it with PUT /v1/settings/twilio.`
        : 'Twilio is not configured: set the account SID, the auth token and a sender (TWILIO_FROM or a messaging service).',
    );
  // The request's template first: when it cannot be sent, no recipient's problem is worth reporting.
  const template = await checkTemplateInRegistry(await templateRegistry(tenantId), input.template);

  const plan = await planFor(tenantId, input, template);
  const { invalid, duplicateCount } = plan;
  const start = input.scheduledAt ? new Date(input.scheduledAt) : now;
  const timed = await bookSends(tenantId, input, plan, { now: start, counted: options.test !== true }, now);
  const { entries, timing } = timed;
  const waitingCount = timing.waiting.quiet_hours + timing.waiting.messaging_limit;

  const chunks = chunkEntries(entries);
  const broadcast: Broadcast = {
    tenantId,
    broadcastId: newBroadcastId(now.getTime()),
    name: input.name ?? `Broadcast of ${now.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    status: input.scheduledAt ? 'scheduled' : 'accepted',
    createdAt: now.toISOString(),
    ...(input.scheduledAt ? { scheduledAt: input.scheduledAt } : {}),
    template: input.template,
    ...(input.followUp ? { followUp: input.followUp } : {}),
    ...(sender ? { sender } : {}),
    ...(input.canary ? { canary: planCanary(input.canary, entries) } : {}),
    ...(test ? { test: true } : {}),
    totalRecipients: entries.length,
    skippedCount: entries.filter((e) => e.skipped).length,
    ...(input.audience ? { audience: audienceAsked(input.audience) } : {}),
    chunkCount: chunks.length,
    fingerprint,
    bodyFingerprint: wholeBody,
    invalidRecipientsCount: invalid.length,
    invalidRecipients: invalid.slice(0, ITEMS_SHOWN),
    duplicateRecipientsCount: duplicateCount,
    ...(options.campaign ? { campaign: options.campaign } : {}),
    ...(input.quietHours ? { quietHours: input.quietHours } : {}),
    ...(input.frequencyCap ? { frequencyCap: input.frequencyCap } : {}),
    ...(waitingCount > 0 && timing.waitingUntil
      ? { waitingAtCreate: waitingCount, waitingUntil: timing.waitingUntil.toISOString() }
      : {}),
    estimatedFinishAt: timing.estimatedFinishAt.toISOString(),
    ...(timed.limited ? { recordsHistory: true } : {}),
  };
  // A scheduled broadcast's start is a one-time at() schedule, made before the broadcast is stored: a
  // store that fails leaves a schedule whose firing finds nothing (and deletes itself), never a
  // stored broadcast that nothing starts.
  if (input.scheduledAt)
    await schedules().put(startScheduleOf(tenantId, broadcast.broadcastId, input.scheduledAt));
  const created = await store.create(broadcast, chunks, {
    ...(idempotencyKey ? { key: idempotencyKey } : {}),
    fingerprintExpiresAt: idempotencyExpiresAt(now),
  });
  if (!created.created) {
    if (input.scheduledAt) await schedules().delete(broadcast.broadcastId);
    return repeatOf(store, tenantId, created.existingBroadcastId, created.fingerprintMatches);
  }

  if (!input.scheduledAt) await enqueueFanOut(tenantId, broadcast.broadcastId, chunks.length);
  logger.info('broadcast accepted', {
    broadcastId: broadcast.broadcastId,
    totalRecipients: entries.length,
    skipped: broadcast.skippedCount,
    waiting: waitingCount,
    category: template.category,
    invalid: invalid.length,
    duplicates: duplicateCount,
    chunks: chunks.length,
  });
  return proofOf(broadcast, entries, false);
}

/** Hands every chunk of an accepted broadcast to the fan-out (functions/fan-out.ts); safe to repeat. */
export async function enqueueFanOut(
  tenantId: string,
  broadcastId: string,
  chunkCount: number,
): Promise<void> {
  const fanOut = new SqsTaskQueue<FanOutTask>(sqs(), requiredEnv('FAN_OUT_QUEUE_URL'));
  await fanOut.enqueue(Array.from({ length: chunkCount }, (_, chunk) => ({ tenantId, broadcastId, chunk })));
}

/** Book writes tried before giving up, when other creates of the tenant keep writing the book first. */
const BOOK_TRIES = 5;

/**
 * The plan's timing, with what it booked in the tenant's messaging-limit book written back before
 * the broadcast is stored: conditionally on the version read, so two creates at once cannot both
 * take the same room (the loser times its recipients again over the winner's book). If storing the
 * broadcast then fails, its booking stays until it ages out (at worst some capacity unused for a day).
 */
async function bookSends(
  tenantId: string,
  input: CreateBroadcastInput,
  plan: Awaited<ReturnType<typeof planFor>>,
  options: { now: Date; counted: boolean },
  /** The real time (a scheduled broadcast is timed from its start): what the book may forget. */
  clock: Date,
) {
  for (let tries = 1; ; tries++) {
    const timed = await timingOf(tenantId, input, plan, options);
    if (Object.keys(timed.timing.booked).length === 0) return timed;
    const book = mergeBook(timed.book, timed.timing.booked, clock.getTime());
    if (await sendHistory().writeBook(tenantId, book, timed.bookVersion)) return timed;
    if (tries >= BOOK_TRIES) throw new Error('The messaging-limit book kept changing under this create');
  }
}

/** The audience as the broadcast keeps it: its groups and tags, and how many phones it listed. */
function audienceAsked(audience: NonNullable<CreateBroadcastInput['audience']>): Broadcast['audience'] {
  return {
    ...(audience.groupIds ? { groupIds: audience.groupIds } : {}),
    ...(audience.tags ? { tags: audience.tags } : {}),
    ...(audience.phones ? { phonesCount: audience.phones.length } : {}),
  };
}

/** The 202 proof: what was accepted, what was not and why. */
function proofOf(broadcast: Broadcast, firstEntries: readonly ChunkEntry[], idempotent: boolean) {
  return {
    broadcastId: broadcast.broadcastId,
    status: broadcast.status,
    ...(broadcast.test ? { test: true } : {}),
    idempotent,
    totalRecipients: broadcast.totalRecipients,
    queuedCount: broadcast.totalRecipients - (broadcast.skippedCount ?? 0),
    skippedCount: broadcast.skippedCount ?? 0,
    invalidRecipientsCount: broadcast.invalidRecipientsCount,
    invalidRecipients: broadcast.invalidRecipients,
    duplicateRecipientsCount: broadcast.duplicateRecipientsCount,
    ...(broadcast.waitingAtCreate
      ? { waiting: { count: broadcast.waitingAtCreate, until: broadcast.waitingUntil } }
      : {}),
    ...(broadcast.estimatedFinishAt ? { estimatedFinishAt: broadcast.estimatedFinishAt } : {}),
    items: firstEntries
      .slice(0, ITEMS_SHOWN)
      .map((e) =>
        e.skipped
          ? { phone: e.phone, status: 'skipped', skipReason: e.skipReason ?? 'suppressed' }
          : { phone: e.phone, status: 'queued', ...(e.notBefore ? { notBefore: e.notBefore } : {}) },
      ),
  };
}

/** A repeat of an earlier request: the same answer (idempotent), or a conflict for another body. */
async function repeatOf(
  store: Broadcasts,
  tenantId: string,
  broadcastId: string,
  sameBody: boolean,
): Promise<BroadcastProof> {
  if (!sameBody)
    throw new ApiError(
      'IDEMPOTENCY_CONFLICT',
      'This Idempotency-Key was already used with a different request body; use a new key for a new broadcast.',
      [
        {
          path: 'Idempotency-Key',
          message: `already used for broadcast ${broadcastId}, with another body`,
          broadcastId,
        },
      ],
    );
  const broadcast = await store.get(tenantId, broadcastId);
  if (!broadcast) throw new Error(`Idempotency record names missing broadcast ${broadcastId}`);
  const first = await store.readChunk(broadcastId, 0);
  return proofOf(broadcast, first.entries, true);
}
