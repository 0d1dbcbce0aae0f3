/**
 * How a broadcast's accepted list is cut into stored chunks (one DynamoDB item and one fan-out task
 * each). By count and by size: DynamoDB refuses an item over 400 KB, attribute names and values
 * included (DynamoDB developer guide, "Service, account, and table quotas"), and recipients' template
 * values can be long (1,024 characters each), so 1,000 recipients do not always fit.
 */
import type { Broadcast, ChunkEntry } from './ports.ts';

/**
 * How long a broadcast's stored list is kept, from its start: it holds the recipients' template
 * values, which retries and recovery read again long after the fan-out. A manual retry is possible
 * as long as that (a month).
 */
export const LIST_RETENTION_DAYS = 30;

/** When the stored list expires (epoch seconds): a month after the broadcast's start (its schedule, if later). */
export function listExpiresAt(broadcast: Pick<Broadcast, 'createdAt' | 'scheduledAt'>): number {
  const start = Math.max(Date.parse(broadcast.createdAt) || 0, Date.parse(broadcast.scheduledAt ?? '') || 0);
  return Math.ceil(start / 1000) + LIST_RETENTION_DAYS * 86_400;
}

export const MAX_CHUNK_ENTRIES = 1000;
/** Well under 400 KB: room for the item's keys, state and TTL, and for DynamoDB's per-value overhead. */
export const MAX_CHUNK_BYTES = 350_000;

/**
 * An entry's size as stored, rounded up: its values in UTF-8 plus the short attribute names of the
 * stored form (`i`, `p`, `v`, `s`) and a few bytes of overhead per value.
 */
export function storedSize(entry: ChunkEntry): number {
  let size = 16 + Buffer.byteLength(entry.phone) + (entry.skipReason ? 4 + entry.skipReason.length : 0);
  // Timing (core/send-timing.ts): a release time, its reason, a booked hour, a zone.
  if (entry.notBefore) size += 8 + entry.notBefore.length + (entry.waitReason?.length ?? 0);
  if (entry.limitHour !== undefined) size += 12;
  if (entry.timeZone) size += 6 + entry.timeZone.length;
  for (const [name, value] of Object.entries(entry.contentVariables))
    size += 4 + Buffer.byteLength(name) + Buffer.byteLength(value);
  return size;
}

/** The entries in order, cut wherever the next one would pass either limit. */
export function chunkEntries(
  entries: readonly ChunkEntry[],
  limits: { maxEntries?: number; maxBytes?: number } = {},
): ChunkEntry[][] {
  const maxEntries = limits.maxEntries ?? MAX_CHUNK_ENTRIES;
  const maxBytes = limits.maxBytes ?? MAX_CHUNK_BYTES;
  const chunks: ChunkEntry[][] = [];
  let current: ChunkEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = storedSize(entry);
    if (current.length > 0 && (current.length >= maxEntries || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
