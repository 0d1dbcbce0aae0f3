import { createHash } from 'node:crypto';
import type { CreateBroadcastInput } from './broadcast-request.ts';

/**
 * Idempotency of POST /v1/broadcasts (API.md):
 * - with an `Idempotency-Key` header: the same key and the same body return the same broadcast;
 *   the same key with a different body is 409 IDEMPOTENCY_CONFLICT (compare `bodyFingerprint`s);
 * - without it: an identical request (same tenant, template, recipients, followUp) within
 *   10 minutes returns the existing broadcast (`requestFingerprint`, `derivedIdempotencyKey`).
 *
 * The 10-minute window is a sliding window measured from the first request, not a clock bucket:
 * the store keeps one record per derived key with `expiresAt = createdAt + IDEMPOTENCY_WINDOW_SECONDS`.
 * A create writes it conditionally (`attribute_not_exists(pk) OR expiresAt <= :now`); when the
 * condition fails, the live record names the existing broadcast. So a first request at 9:59 and
 * its repeat at 10:01 are the same broadcast (2 minutes apart, the record is live), and a repeat at
 * 10:09:59 still is; one at 10:10 or later creates a new broadcast. (A bucketed key such as
 * floor(now / 10 min) would wrongly split 9:59 and 10:01.) The record's `expiresAt` doubles as the
 * table's TTL attribute; since TTL deletion is lazy, reads must check `isIdempotencyRecordLive`.
 */

export const IDEMPOTENCY_WINDOW_SECONDS = 600;

/** JSON with object keys sorted at every level, `undefined` members dropped (as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

type FingerprintInput = Pick<CreateBroadcastInput, 'template'> &
  Partial<
    Pick<
      CreateBroadcastInput,
      | 'recipients'
      | 'audience'
      | 'followUp'
      | 'scheduledAt'
      | 'defaultCountry'
      | 'name'
      | 'quietHours'
      | 'frequencyCap'
      | 'canary'
    >
  > & {
    /** A campaign's run: two firings of one campaign are two broadcasts, however alike. */
    readonly campaign?: { readonly campaignId: string; readonly scheduledFor: string } | undefined;
    /** A test send (commons/broadcast-control.ts) is never the same as a real broadcast to those phones. */
    readonly test?: boolean;
  };

/**
 * sha256 hex of what makes two requests "identical" per API.md: tenant, template (SID and
 * variables), recipients and audience as given (order and spelling included), followUp; plus the two fields
 * that change what the same recipients list means or when it goes out: defaultCountry (national
 * phones read differently) and scheduledAt (two schedules of one message are two broadcasts); and
 * the canary and the test mark (they change how it goes out; absent, the fingerprint is as before).
 * `name` is excluded: a retried request that renamed the broadcast is still the same send.
 */
export function requestFingerprint(tenantId: string, input: FingerprintInput): string {
  return sha256Hex(
    canonicalJson({
      v: 1,
      tenantId,
      template: input.template,
      recipients: input.recipients,
      audience: input.audience,
      followUp: input.followUp,
      defaultCountry: input.defaultCountry,
      scheduledAt: input.scheduledAt,
      campaign: input.campaign,
      // Absent ones leave the hash as it was before they existed (canonicalJson drops undefined).
      quietHours: input.quietHours,
      frequencyCap: input.frequencyCap,
      canary: input.canary,
      test: input.test || undefined,
    }),
  );
}

/**
 * sha256 hex of the whole validated body (name included), for the Idempotency-Key rule "same key,
 * different body → 409": store it with the key's record and compare on a repeat.
 */
export function bodyFingerprint(tenantId: string, input: FingerprintInput): string {
  return sha256Hex(
    canonicalJson({ v: 1, tenantId, fingerprint: requestFingerprint(tenantId, input), name: input.name }),
  );
}

/**
 * The idempotency record key for a request without an Idempotency-Key header. It does not depend
 * on `now`: the window is the record's `expiresAt` (see the module comment); `now` is accepted so
 * callers pass the same clock everywhere. Distinct from `explicitIdempotencyKey` by prefix, so a
 * client key can never collide with a derived one.
 */
export function derivedIdempotencyKey(fingerprint: string, _now?: Date | number): string {
  return `auto#${fingerprint}`;
}

/**
 * The record key for a client `Idempotency-Key` header, scoped to the tenant (two tenants may use
 * the same key) and hashed (any printable text up to 255 characters becomes 64 hex characters).
 */
export function explicitIdempotencyKey(tenantId: string, headerValue: string): string {
  return `key#${sha256Hex(canonicalJson([tenantId, headerValue]))}`;
}

/**
 * How long a client Idempotency-Key is remembered (24 h, as payment APIs do). API.md sets no
 * window for explicit keys; a shorter one would let a late client retry create a second send.
 */
export const EXPLICIT_IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60;

function epochSeconds(now: Date | number): number {
  return Math.floor((typeof now === 'number' ? now : now.getTime()) / 1000);
}

/** `expiresAt` (epoch seconds, usable as a DynamoDB TTL) of an idempotency record created at `now`. */
export function idempotencyExpiresAt(now: Date | number, windowSeconds = IDEMPOTENCY_WINDOW_SECONDS): number {
  return epochSeconds(now) + windowSeconds;
}

/** Whether a stored record still answers for its key at `now` (live strictly before `expiresAt`). */
export function isIdempotencyRecordLive(expiresAt: number, now: Date | number): boolean {
  return epochSeconds(now) < expiresAt;
}
