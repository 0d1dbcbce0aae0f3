/**
 * How long the items that hold a person's phone number or what they wrote are kept (issue 15,
 * "Data retention"). Each such item carries `expiresAt` (epoch seconds), the main table's TTL
 * attribute: DynamoDB deletes an item some time after that moment, "typically within a few days"
 * (AWS DynamoDB developer guide, "Using time to live (TTL)"). Readers whose answer depends on it
 * (idempotency records, inbound markers) check the time themselves; a recipient or a history entry
 * may still be listed for those few days. Suppressions, contacts, groups and a broadcast's item (its
 * counts and summary) have no expiry.
 *
 * Deployment settings (functions' environment; CDK context `-c recipientRetentionDays=…`):
 * - RECIPIENT_RETENTION_DAYS (default 90): a broadcast's recipients (the send ledger), counted from
 *   each recipient's first write. At least the stored list's 30 days (core/chunks.ts, the window of a
 *   manual retry) plus the retry windows (RETRY_BACKOFF_SECONDS) plus a day, so no recipient can
 *   expire while a retry or a late status callback may still need it.
 * - HISTORY_RETENTION_DAYS (default 180): a contact's message history (outbound and inbound entries,
 *   with what the person wrote), counted from each message's time.
 */
import { LIST_RETENTION_DAYS } from './chunks.ts';

export const DAY_SECONDS = 86_400;
export const DEFAULT_RECIPIENT_RETENTION_DAYS = 90;
export const DEFAULT_HISTORY_RETENTION_DAYS = 180;
/** DynamoDB's TTL ignores values more than five years in the past; a ten-year ceiling keeps settings sane. */
export const MAX_RETENTION_DAYS = 3650;

export interface RetentionSettings {
  readonly recipientDays: number;
  readonly historyDays: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The fewest days a recipient may be kept with these retry windows (seconds): the stored list's
 * retention (a manual retry may start on its last day), every retry window after it, and one day for
 * the last status callbacks.
 */
export function minimumRecipientDays(backoffSeconds: readonly number[]): number {
  const retrying = backoffSeconds.reduce((sum, s) => sum + s, 0);
  return LIST_RETENTION_DAYS + Math.ceil(retrying / DAY_SECONDS) + 1;
}

/**
 * The settings from the environment, checked. Throws an Error naming the variable when a value is
 * not a whole number of days within bounds (the stack calls it at synth, the twin at start).
 */
export function retentionSettings(env: Env, backoffSeconds: readonly number[]): RetentionSettings {
  return {
    recipientDays: days(
      env,
      'RECIPIENT_RETENTION_DAYS',
      DEFAULT_RECIPIENT_RETENTION_DAYS,
      minimumRecipientDays(backoffSeconds),
    ),
    historyDays: days(env, 'HISTORY_RETENTION_DAYS', DEFAULT_HISTORY_RETENTION_DAYS, 1),
  };
}

function days(env: Env, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (!raw) return Math.max(fallback, min);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > MAX_RETENTION_DAYS)
    throw new Error(
      `${name} must be a whole number of days from ${min} to ${MAX_RETENTION_DAYS}; got '${raw}'.${
        name === 'RECIPIENT_RETENTION_DAYS'
          ? ` Recipients must outlive the ${LIST_RETENTION_DAYS}-day retry window and the retry backoff (RETRY_BACKOFF_SECONDS).`
          : ''
      }`,
    );
  return value;
}

/** `expiresAt` (epoch seconds, DynamoDB TTL) of an item written at `at` (a Date or ISO time) and kept `days`. */
export function expiresAfter(at: Date | string, days: number): number {
  const ms = typeof at === 'string' ? Date.parse(at) : at.getTime();
  return Math.ceil((Number.isNaN(ms) ? Date.now() : ms) / 1000) + days * DAY_SECONDS;
}

/**
 * When a broadcast's recipients start to expire: `days` after its start (its schedule, if later).
 * Recipients first written later (a long spread, a retry) are kept a little longer than this.
 */
export function recipientsExpireAt(
  broadcast: { readonly createdAt: string; readonly scheduledAt?: string },
  days: number,
): Date {
  const start = Math.max(Date.parse(broadcast.createdAt) || 0, Date.parse(broadcast.scheduledAt ?? '') || 0);
  return new Date(start + days * DAY_SECONDS * 1000);
}

/**
 * Whether a stream record is DynamoDB's own TTL deletion: a REMOVE whose userIdentity is the
 * service (`{ type: 'Service', principalId: 'dynamodb.amazonaws.com' }`; AWS DynamoDB developer
 * guide, "DynamoDB Streams and Time to Live"). Such a removal is retention, not an outcome: the
 * counters keep what the item had counted.
 */
export function isTimeToLiveRemoval(record: {
  readonly eventName?: string;
  readonly userIdentity?: { readonly type?: string; readonly principalId?: string } | null;
}): boolean {
  return (
    record.eventName === 'REMOVE' &&
    record.userIdentity?.type === 'Service' &&
    record.userIdentity.principalId === 'dynamodb.amazonaws.com'
  );
}
