/**
 * The single table's layout for broadcasts and their send ledger (pk / sk). Contacts, suppressions
 * and history are laid out in dynamo-contact-store.ts, API keys in dynamo-api-keys.ts, the senders'
 * schedules in dynamo-sender-schedule.ts.
 *
 *   TENANT#<t>                BROADCAST#<id>   the broadcast (newest first: ids are ULIDs)
 *   BROADCAST#<id>            CHUNK#<n>        a stored chunk of the accepted list (its entries)
 *   BROADCAST#<id>            FANOUT#<n>       how far the fan-out got with chunk n (counted, enqueued): a
 *                                              small item of its own, so marking it never rewrites the chunk
 *   BROADCAST#<id>            COUNTS#fanout    recipients handed to the send queue (c_queued), chunks counted
 *   BROADCAST#<id>            COUNTS#S<nn>     the stream aggregator's counters for recipients of shard nn,
 *                                              with `seq`, the last stream record applied (exactly once)
 *   BROADCAST#<id>#S<nn>      R#<index>        a recipient: its send ledger entry (and its follow-up's),
 *                                              written when it is first claimed (or skipped)
 *   SID#<sid>                 SID              provider SID → recipient, for two-step broadcasts (taps)
 *   ACTIVITY#<t>              <minute>         the tenant's sent and failed recipients that minute
 *   IDEM#<t>#<key>            IDEM             Idempotency-Key header → broadcast (24 h)
 *   FP#<t>#<fingerprint>      FP               identical-request fingerprint → broadcast (10 minutes)
 *
 * Recipients are spread over SHARDS partitions per broadcast (shard = index mod SHARDS), so one
 * broadcast's writes never sit on one partition (~1,000 writes/s each); the aggregator keeps one
 * counter item per shard, so each counter item has exactly one writer and its watermark is ordered.
 */
export const SHARDS = 16;

export const broadcastKey = (tenantId: string, broadcastId: string) => ({
  pk: `TENANT#${tenantId}`,
  sk: `BROADCAST#${broadcastId}`,
});
export const broadcastPartition = (broadcastId: string) => `BROADCAST#${broadcastId}`;
export const shardOf = (index: number) => index % SHARDS;
export const shardName = (shard: number) => `S${String(shard).padStart(2, '0')}`;
export const recipientPartition = (broadcastId: string, shard: number) =>
  `${broadcastPartition(broadcastId)}#${shardName(shard)}`;
export const recipientKey = (broadcastId: string, index: number) => ({
  pk: recipientPartition(broadcastId, shardOf(index)),
  sk: `R#${String(index).padStart(7, '0')}`,
});
export const chunkKey = (broadcastId: string, chunk: number) => ({
  pk: broadcastPartition(broadcastId),
  sk: `CHUNK#${String(chunk).padStart(5, '0')}`,
});
export const FANOUT_PREFIX = 'FANOUT#';
export const fanOutStateKey = (broadcastId: string, chunk: number) => ({
  pk: broadcastPartition(broadcastId),
  sk: `${FANOUT_PREFIX}${String(chunk).padStart(5, '0')}`,
});
export const COUNTS_PREFIX = 'COUNTS#';
export const fanOutCountsKey = (broadcastId: string) => ({
  pk: broadcastPartition(broadcastId),
  sk: `${COUNTS_PREFIX}fanout`,
});
export const shardCountsKey = (broadcastId: string, shard: string) => ({
  pk: broadcastPartition(broadcastId),
  sk: `${COUNTS_PREFIX}${shard}`,
});
export const sidKey = (sid: string) => ({ pk: `SID#${sid}`, sk: 'SID' });
export const activityKey = (tenantId: string, minute: string) => ({ pk: `ACTIVITY#${tenantId}`, sk: minute });
export const idemKey = (tenantId: string, key: string) => ({ pk: `IDEM#${tenantId}#${key}`, sk: 'IDEM' });
export const fingerprintKey = (tenantId: string, fp: string) => ({ pk: `FP#${tenantId}#${fp}`, sk: 'FP' });

/** A recipient item's partition `BROADCAST#<id>#S<nn>` → its broadcast and shard, or undefined. */
export function parseRecipientPartition(pk: string): { broadcastId: string; shard: string } | undefined {
  const match = /^BROADCAST#([^#]+)#(S\d{2})$/.exec(pk);
  return match ? { broadcastId: match[1] as string, shard: match[2] as string } : undefined;
}

/** The minute an ISO time falls in, as activity items name it (`2026-11-30T09:41`). */
export const minuteOf = (at: Date) => at.toISOString().slice(0, 16);

/** The attributes that put a broadcast in the activeBroadcasts index while it is not final. */
export const ACTIVE = 'ACTIVE';
export function activeFields(broadcast: { tenantId: string; broadcastId: string }) {
  return { active: ACTIVE, activeKey: `${broadcast.tenantId}#${broadcast.broadcastId}` };
}
