import { decodeTime, ulid } from 'ulid';

/**
 * Ids: a prefix and a ULID (26 Crockford base-32 characters, time-sortable, URL-safe), API.md.
 * A ULID made in the same millisecond by another Lambda sorts arbitrarily within that
 * millisecond, which is fine for ids (they are not sequence numbers).
 */

export const BROADCAST_ID_PREFIX = 'brd_';
const ULID_PATTERN = '[0-9A-HJKMNP-TV-Z]{26}';
const BROADCAST_ID = new RegExp(`^${BROADCAST_ID_PREFIX}${ULID_PATTERN}$`);

/** `brd_01JD…` (time: `now`, epoch milliseconds; default the current time). */
export function newBroadcastId(now?: number): string {
  return `${BROADCAST_ID_PREFIX}${ulid(now)}`;
}

/** Whether `s` is a well-formed broadcast id (a route answers 404 for anything else without a lookup). */
export function isBroadcastId(s: unknown): s is string {
  return typeof s === 'string' && BROADCAST_ID.test(s);
}

/** The creation time (epoch milliseconds) encoded in a broadcast id. */
export function broadcastIdTime(id: string): number {
  if (!isBroadcastId(id)) throw new Error(`not a broadcast id: ${id}`);
  return decodeTime(id.slice(BROADCAST_ID_PREFIX.length));
}

export const GROUP_ID_PREFIX = 'grp_';
const GROUP_ID = new RegExp(`^${GROUP_ID_PREFIX}${ULID_PATTERN}$`);

/** `grp_01JD…` (API.md Groups). */
export function newGroupId(now?: number): string {
  return `${GROUP_ID_PREFIX}${ulid(now)}`;
}

/** Whether `s` is a well-formed group id (a route answers 404 for anything else without a lookup). */
export function isGroupId(s: unknown): s is string {
  return typeof s === 'string' && GROUP_ID.test(s);
}

export const CAMPAIGN_ID_PREFIX = 'cmp_';
const CAMPAIGN_ID = new RegExp(`^${CAMPAIGN_ID_PREFIX}${ULID_PATTERN}$`);

/** `cmp_01JD…` (API.md Campaigns); also the name of the campaign's schedule. */
export function newCampaignId(now?: number): string {
  return `${CAMPAIGN_ID_PREFIX}${ulid(now)}`;
}

/** Whether `s` is a well-formed campaign id (a route answers 404 for anything else without a lookup). */
export function isCampaignId(s: unknown): s is string {
  return typeof s === 'string' && CAMPAIGN_ID.test(s);
}
