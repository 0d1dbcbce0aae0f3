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
import type { Broadcast, Broadcasts, ChunkEntry, FanOutTask } from '../core/ports.ts';
import { checkTemplateInRegistry } from '../core/template-check.ts';
import { planFor } from './broadcast-planning.ts';
import { requiredEnv, twilioConfigured } from './config.ts';
import { logger } from './powertools.ts';
import { templateRegistry } from './template-wiring.ts';
import { broadcasts, sqs } from './wiring.ts';

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
  options: { idempotencyKey?: string; now?: Date; test?: boolean } = {},
): Promise<BroadcastProof> {
  const now = options.now ?? new Date();
  const store = broadcasts();
  const test = options.test === true;
  const fingerprint = requestFingerprint(tenantId, { ...input, test });
  const wholeBody = bodyFingerprint(tenantId, { ...input, test });
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

  if (!(await twilioConfigured()))
    throw new ApiError(
      'PROVIDER_NOT_CONFIGURED',
      'Twilio is not configured: set the account SID, the auth token and a sender (TWILIO_FROM or a messaging service).',
    );
  // The request's template first: when it cannot be sent, no recipient's problem is worth reporting.
  const template = await checkTemplateInRegistry(await templateRegistry(), input.template);

  const { entries, invalid, duplicateCount } = await planFor(tenantId, input, template);

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
  };
  const created = await store.create(broadcast, chunks, {
    ...(idempotencyKey ? { key: idempotencyKey } : {}),
    fingerprintExpiresAt: idempotencyExpiresAt(now),
  });
  if (!created.created)
    return repeatOf(store, tenantId, created.existingBroadcastId, created.fingerprintMatches);

  const fanOut = new SqsTaskQueue<FanOutTask>(sqs(), requiredEnv('FAN_OUT_QUEUE_URL'));
  await fanOut.enqueue(chunks.map((_, chunk) => ({ tenantId, broadcastId: broadcast.broadcastId, chunk })));
  logger.info('broadcast accepted', {
    broadcastId: broadcast.broadcastId,
    totalRecipients: entries.length,
    skipped: broadcast.skippedCount,
    category: template.category,
    invalid: invalid.length,
    duplicates: duplicateCount,
    chunks: chunks.length,
  });
  return proofOf(broadcast, entries, false);
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
    items: firstEntries
      .slice(0, ITEMS_SHOWN)
      .map((e) =>
        e.skipped
          ? { phone: e.phone, status: 'skipped', skipReason: e.skipReason ?? 'suppressed' }
          : { phone: e.phone, status: 'queued' },
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
