import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { toCounts } from '../core/counts.ts';
import { decodeItemCursor, decodeShardCursor, encodeItemCursor, encodeShardCursor } from '../core/cursor.ts';
import { canAdvanceFollowUp, followUpCountsOf } from '../core/follow-up.ts';
import { EXPLICIT_IDEMPOTENCY_WINDOW_SECONDS } from '../core/idempotency.ts';
import type {
  Broadcast,
  BroadcastStore,
  ChunkEntry,
  FollowUpStatus,
  MessageRef,
  MoveResult,
  Recipient,
  RecipientKey,
  SendTask,
} from '../core/ports.ts';
import {
  canAdvance,
  finalBroadcastStatus,
  RECIPIENT_STATUSES,
  type RecipientStatus,
} from '../core/statuses.ts';
import { isConditionFailure, strip } from './dynamo-items.ts';

/**
 * The single-table layout (pk / sk):
 *
 *   TENANT#<t>                BROADCAST#<id>   the broadcast (newest first: ids are ULIDs)
 *   BROADCAST#<id>            CHUNK#<n>        a stored chunk of the accepted list, expanded after the 202
 *   BROADCAST#<id>#S<shard>   COUNTS           counter shard: c_<status>, e_<error code>, r_pending,
 *                                              f_<follow-up status> and f_confirmed
 *   BROADCAST#<id>#S<shard>   R#<index>        a recipient, which is also its send ledger entry (and,
 *                                              in `followUp`, its follow-up's)
 *   SID#<sid>                 SID              provider message SID → recipient (kind: template or follow-up)
 *   IDEM#<t>#<key>            IDEM             Idempotency-Key header → broadcast
 *   FP#<t>#<fingerprint>      FP               identical-request fingerprint → broadcast (10 minutes)
 *
 * Recipients and counters are spread over SHARDS partitions per broadcast (shard = index mod
 * SHARDS), so one broadcast's writes never sit on one hot partition (~1,000 writes/s each).
 * `pending` is not counted: it is totalRecipients minus every counted status, which lets the
 * list be stored as a few chunk items within the request and expanded afterwards.
 */
export const SHARDS = 16;
const TRANSACT_LIMIT = 100;

const broadcastKey = (tenantId: string, broadcastId: string) => ({
  pk: `TENANT#${tenantId}`,
  sk: `BROADCAST#${broadcastId}`,
});
const shardOf = (index: number) => index % SHARDS;
const shardPk = (broadcastId: string, shard: number) =>
  `BROADCAST#${broadcastId}#S${String(shard).padStart(2, '0')}`;
const countsKey = (broadcastId: string, shard: number) => ({ pk: shardPk(broadcastId, shard), sk: 'COUNTS' });
const recipientKey = (broadcastId: string, index: number) => ({
  pk: shardPk(broadcastId, shardOf(index)),
  sk: `R#${String(index).padStart(7, '0')}`,
});
const chunkKey = (broadcastId: string, chunk: number) => ({
  pk: `BROADCAST#${broadcastId}`,
  sk: `CHUNK#${String(chunk).padStart(5, '0')}`,
});
const sidKey = (sid: string) => ({ pk: `SID#${sid}`, sk: 'SID' });
/** The sort keys a list cursor may name (functions/core/cursor.ts checks them). */
const BROADCAST_SK = /^BROADCAST#brd_[0-9A-Z]{1,32}$/;
const RECIPIENT_SK = /^R#[0-9]{7}$/;
/** Per-tenant sends and failures by minute, spread over ACTIVITY_SHARDS items (for /v1/metrics). */
const ACTIVITY_SHARDS = 4;
const ACTIVITY_TTL_SECONDS = 3600;
const minuteOf = (at: Date) => at.toISOString().slice(0, 16);
const activityKey = (tenantId: string, index: number, at: Date) => ({
  pk: `ACTIVITY#${tenantId}#${index % ACTIVITY_SHARDS}`,
  sk: minuteOf(at),
});
/** Due retries are spread over this many index partitions; the retry job reads them all. */
const RETRY_SHARDS = 4;
const ACTIVE = 'ACTIVE';
const idemKey = (tenantId: string, key: string) => ({ pk: `IDEM#${tenantId}#${key}`, sk: 'IDEM' });
const fingerprintKey = (tenantId: string, fp: string) => ({ pk: `FP#${tenantId}#${fp}`, sk: 'FP' });

const TIMESTAMP_OF: Partial<Record<RecipientStatus, 'sentAt' | 'deliveredAt' | 'readAt'>> = {
  sent: 'sentAt',
  delivered: 'deliveredAt',
  read: 'readAt',
};
const DAY = 86_400;
/** What a recipient skipped at creation says about why. */
const SUPPRESSED_MESSAGE = "On the tenant's suppression list when the broadcast was created";
/** Chunks are only needed until fan-out; they expire on their own a week after the broadcast starts. */
const CHUNK_TTL_SECONDS = 7 * DAY;
/** Epoch seconds of an ISO time; 0 when there is none. */
const secondsOf = (iso: string | undefined) => Math.ceil(Date.parse(iso ?? '') / 1000) || 0;

export class DynamoBroadcastStore implements BroadcastStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.db = db;
    this.table = table;
  }

  async createBroadcast(
    broadcast: Broadcast,
    chunks: readonly (readonly ChunkEntry[])[],
    idempotency: { key?: string; fingerprintExpiresAt: number },
  ): Promise<
    { created: true } | { created: false; existingBroadcastId: string; fingerprintMatches: boolean }
  > {
    const nowSeconds = Math.floor(Date.now() / 1000);
    // Chunks first: if the broadcast write then loses a race, they are orphans that expire.
    await this.batchPut(
      chunks.map((entries, n) => ({
        ...chunkKey(broadcast.broadcastId, n),
        entries: entries.map((e) => ({
          i: e.index,
          p: e.phone,
          v: e.contentVariables,
          ...(e.skipped ? { s: 1 } : {}),
        })),
        // A scheduled broadcast's list must outlive its wait: the week counts from its start.
        expiresAt: Math.max(nowSeconds, secondsOf(broadcast.scheduledAt)) + CHUNK_TTL_SECONDS,
      })),
    );
    const items: NonNullable<TransactWriteCommandInput['TransactItems']> = [
      {
        Put: {
          TableName: this.table,
          Item: {
            ...broadcastKey(broadcast.tenantId, broadcast.broadcastId),
            ...broadcast,
            ...activeFields(broadcast),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ];
    // An explicit Idempotency-Key replaces the derived 10-minute rule: it is the client's own control.
    if (idempotency.key)
      items.push({
        Put: {
          TableName: this.table,
          Item: {
            ...idemKey(broadcast.tenantId, idempotency.key),
            broadcastId: broadcast.broadcastId,
            fingerprint: broadcast.bodyFingerprint,
            expiresAt: nowSeconds + EXPLICIT_IDEMPOTENCY_WINDOW_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    else
      items.push({
        Put: {
          TableName: this.table,
          Item: {
            ...fingerprintKey(broadcast.tenantId, broadcast.fingerprint),
            broadcastId: broadcast.broadcastId,
            expiresAt: idempotency.fingerprintExpiresAt,
          },
          // An expired record may still be there (TTL deletes lazily): it no longer counts.
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': nowSeconds },
        },
      });
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return { created: true };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      // A concurrent identical request (or the same key) won: answer with its broadcast.
      if (idempotency.key) {
        const byKey = await this.findByIdempotencyKey(broadcast.tenantId, idempotency.key);
        if (byKey)
          return {
            created: false,
            existingBroadcastId: byKey.broadcastId,
            fingerprintMatches: byKey.fingerprint === broadcast.bodyFingerprint,
          };
      } else {
        const byFingerprint = await this.findByFingerprint(
          broadcast.tenantId,
          broadcast.fingerprint,
          new Date(),
        );
        if (byFingerprint)
          return { created: false, existingBroadcastId: byFingerprint, fingerprintMatches: true };
      }
      throw error;
    }
  }

  async findByIdempotencyKey(tenantId: string, key: string) {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: idemKey(tenantId, key), ConsistentRead: true }),
    );
    return Item
      ? { broadcastId: String(Item.broadcastId), fingerprint: String(Item.fingerprint) }
      : undefined;
  }

  async findByFingerprint(tenantId: string, fingerprint: string, now: Date) {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: fingerprintKey(tenantId, fingerprint),
        ConsistentRead: true,
      }),
    );
    if (!Item || Number(Item.expiresAt) < Math.floor(now.getTime() / 1000)) return undefined;
    return String(Item.broadcastId);
  }

  async getBroadcast(tenantId: string, broadcastId: string): Promise<Broadcast | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: broadcastKey(tenantId, broadcastId),
        ConsistentRead: true,
      }),
    );
    return Item ? toBroadcast(Item) : undefined;
  }

  async listBroadcasts(tenantId: string, page: { limit: number; cursor?: string; status?: string }) {
    const items: Broadcast[] = [];
    let startKey: Record<string, unknown> | undefined = page.cursor
      ? { ...decodeItemCursor('broadcasts', page.cursor, { pk: `TENANT#${tenantId}`, sk: BROADCAST_SK }) }
      : undefined;
    // A status filter is applied after the read, so keep reading until the page is full. One item
    // more than the page tells whether there is a next page: the last page has no cursor.
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': `TENANT#${tenantId}`,
            ':prefix': 'BROADCAST#',
            ...(page.status ? { ':status': page.status } : {}),
          },
          ...(page.status
            ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } }
            : {}),
          ScanIndexForward: false,
          Limit: page.limit + 1 - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) items.push(toBroadcast(item));
      startKey = result.LastEvaluatedKey;
    } while (startKey && items.length <= page.limit);
    const last = items.length > page.limit ? items[page.limit - 1] : undefined;
    return {
      items: items.slice(0, page.limit),
      ...(last
        ? { nextCursor: encodeItemCursor('broadcasts', broadcastKey(tenantId, last.broadcastId)) }
        : {}),
    };
  }

  async getCounts(broadcast: Broadcast) {
    const keys = Array.from({ length: SHARDS }, (_, shard) => countsKey(broadcast.broadcastId, shard));
    const shards = await this.batchGet(keys);
    const counts: Record<string, number> = Object.fromEntries(RECIPIENT_STATUSES.map((s) => [s, 0]));
    const errors: Record<string, number> = {};
    const followUp: Record<string, number> = {};
    let retriesPending = 0;
    const add = (into: Record<string, number>, name: string, value: unknown) => {
      into[name] = (into[name] ?? 0) + Number(value);
    };
    for (const item of shards)
      for (const [name, value] of Object.entries(item)) {
        if (name.startsWith('c_')) add(counts, name.slice(2), value);
        else if (name.startsWith('e_')) add(errors, name.slice(2), value);
        else if (name.startsWith('f_')) add(followUp, name.slice(2), value);
        else if (name === 'r_pending') retriesPending += Number(value);
      }
    let counted = 0;
    for (const s of RECIPIENT_STATUSES) if (s !== 'pending') counted += counts[s] ?? 0;
    counts.pending = Math.max(0, broadcast.totalRecipients - counted);
    const succeeded = (counts.sent ?? 0) + (counts.delivered ?? 0) + (counts.read ?? 0);
    return {
      counts: toCounts(counts),
      errors,
      retriesPending,
      ...(broadcast.followUp ? { followUps: followUpCountsOf(followUp, succeeded) } : {}),
    };
  }

  async listRecipients(broadcast: Broadcast, page: { limit: number; cursor?: string; status?: string }) {
    // Shards are read in order; the cursor names the shard and the position within it.
    const from = page.cursor
      ? decodeShardCursor('recipients', page.cursor, {
          owner: broadcast.broadcastId,
          shards: SHARDS,
          sk: RECIPIENT_SK,
        })
      : { shard: 0 };
    let shard = from.shard;
    let key: Record<string, unknown> | undefined =
      from.sk !== undefined ? { pk: shardPk(broadcast.broadcastId, shard), sk: from.sk } : undefined;
    const items: Recipient[] = [];
    while (shard < SHARDS && items.length < page.limit) {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': shardPk(broadcast.broadcastId, shard),
            ':prefix': 'R#',
            ...(page.status ? { ':status': page.status } : {}),
          },
          ...(page.status
            ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } }
            : {}),
          Limit: page.limit - items.length,
          ExclusiveStartKey: key,
        }),
      );
      for (const item of result.Items ?? []) items.push(toRecipient(item));
      if (result.LastEvaluatedKey) key = result.LastEvaluatedKey;
      else {
        shard += 1;
        key = undefined;
      }
    }
    const position = { shard, ...(key ? { sk: String(key.sk) } : {}) };
    return {
      items,
      ...(shard < SHARDS
        ? { nextCursor: encodeShardCursor('recipients', broadcast.broadcastId, position) }
        : {}),
    };
  }

  async readChunk(_tenantId: string, broadcastId: string, chunk: number): Promise<readonly ChunkEntry[]> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: chunkKey(broadcastId, chunk), ConsistentRead: true }),
    );
    if (!Item) throw new Error(`Chunk ${chunk} of ${broadcastId} is missing`);
    return (Item.entries as { i: number; p: string; v: Record<string, string>; s?: number }[]).map((e) => ({
      index: e.i,
      phone: e.p,
      contentVariables: e.v,
      ...(e.s ? { skipped: true } : {}),
    }));
  }

  async expandChunk(
    broadcast: Broadcast,
    _chunk: number,
    entries: readonly ChunkEntry[],
  ): Promise<Recipient[]> {
    const now = new Date().toISOString();
    const byShard = new Map<number, ChunkEntry[]>();
    for (const e of entries) byShard.set(shardOf(e.index), [...(byShard.get(shardOf(e.index)) ?? []), e]);
    const ready: Recipient[] = [];
    for (const [shard, group] of byShard)
      for (let start = 0; start < group.length; start += TRANSACT_LIMIT - 1) {
        const slice = group.slice(start, start + TRANSACT_LIMIT - 1);
        // A number suppressed when the broadcast was created is written as skipped; a cancelled
        // broadcast's remaining list as cancelled, so its counts settle.
        const recipients = slice.map((e) =>
          newRecipient(
            broadcast,
            e,
            now,
            e.skipped ? 'skipped' : broadcast.status === 'cancelled' ? 'cancelled' : 'queued',
          ),
        );
        try {
          await this.db.send(
            new TransactWriteCommand({ TransactItems: this.expandItems(broadcast, shard, recipients) }),
          );
          ready.push(...recipients);
        } catch (error) {
          if (!(error instanceof TransactionCanceledException)) throw error;
          // A redelivered fan-out task: some were written before. One at a time, and hand back
          // every one still waiting in `queued` so it is enqueued again (a duplicate send task is
          // harmless: the claim admits one).
          for (const recipient of recipients) {
            try {
              await this.db.send(
                new TransactWriteCommand({ TransactItems: this.expandItems(broadcast, shard, [recipient]) }),
              );
              if (recipient.status === 'queued') ready.push(recipient);
            } catch (inner) {
              if (!(inner instanceof TransactionCanceledException)) throw inner;
              const existing = await this.getRecipient(recipient);
              if (existing?.status === 'queued') ready.push(existing);
            }
          }
        }
      }
    return ready;
  }

  private expandItems(broadcast: Broadcast, shard: number, recipients: Recipient[]) {
    return [
      ...recipients.map((r) => ({
        Put: {
          TableName: this.table,
          Item: { ...recipientKey(broadcast.broadcastId, r.index), ...r },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      })),
      {
        Update: {
          TableName: this.table,
          Key: countsKey(broadcast.broadcastId, shard),
          ...addExpression(
            Object.fromEntries(
              ['queued', 'cancelled', 'skipped'].map((status) => [
                `c_${status}`,
                recipients.filter((r) => r.status === status).length,
              ]),
            ),
          ),
        },
      },
    ];
  }

  startScheduled(tenantId: string, broadcastId: string): Promise<boolean> {
    return this.setStatusIf(tenantId, broadcastId, ['scheduled'], 'accepted', {});
  }

  async markChunkExpanded(broadcast: Broadcast, chunk: number): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: chunkKey(broadcast.broadcastId, chunk),
          UpdateExpression: 'SET expanded = :true',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(expanded)',
          ExpressionAttributeValues: { ':true': true },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return; // counted already
      throw error;
    }
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: broadcastKey(broadcast.tenantId, broadcast.broadcastId),
        UpdateExpression: 'ADD chunksExpanded :one',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    if (Number(Attributes?.chunksExpanded) >= broadcast.chunkCount)
      await this.setStatusIf(broadcast.tenantId, broadcast.broadcastId, ['accepted'], 'queued', {});
  }

  async getRecipient(key: RecipientKey): Promise<Recipient | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: recipientKey(key.broadcastId, key.index),
        ConsistentRead: true,
      }),
    );
    return Item ? toRecipient(Item) : undefined;
  }

  async claim(key: RecipientKey, attempt: number, now: Date, leaseSeconds: number): Promise<MoveResult> {
    return this.move(
      key,
      { from: 'queued', to: 'sending', attempt },
      {
        set: {
          claimedAt: now.toISOString(),
          leaseUntil: new Date(now.getTime() + leaseSeconds * 1000).toISOString(),
          updatedAt: now.toISOString(),
        },
      },
    );
  }

  async releaseClaim(key: RecipientKey, attempt: number, now: Date): Promise<MoveResult> {
    return this.move(
      key,
      { from: 'sending', to: 'queued', attempt },
      {
        set: { updatedAt: now.toISOString() },
        remove: ['claimedAt', 'leaseUntil'],
        // Once a SID is known (a callback adopted it), Twilio has the message: never send it again.
        condition: 'attribute_not_exists(messageSid)',
      },
    );
  }

  async recordSid(key: RecipientKey, attempt: number, sid: string): Promise<void> {
    // The index first: if we crash before the recipient write, a callback still finds the recipient.
    await this.indexSid(key, sid, { attempt });
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recipientKey(key.broadcastId, key.index),
          UpdateExpression: 'SET messageSid = :sid',
          ConditionExpression: 'attempts = :a AND attribute_not_exists(messageSid)',
          ExpressionAttributeValues: { ':sid': sid, ':a': attempt },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async advance(
    key: RecipientKey,
    to: Exclude<RecipientStatus, 'pending' | 'queued'>,
    details: {
      at: Date;
      errorCode?: number;
      errorMessage?: string;
      messageSid?: string;
      attempt?: number;
      retryAt?: Date;
      current?: Recipient;
    },
  ): Promise<MoveResult> {
    // Optimistic: read, decide with the domain rule, write conditioned on what was read.
    for (let tries = 0; tries < 5; tries++) {
      const current = tries === 0 && details.current ? details.current : await this.getRecipient(key);
      if (!current) return { moved: false };
      if (details.attempt !== undefined && current.attempts !== details.attempt)
        return { moved: false, current };
      if (!canAdvance(current.status, to)) return { moved: false, current };
      const set = forwardFields(to, details, current);
      const counters: Record<string, number> = {};
      if (details.errorCode !== undefined) counters[`e_${details.errorCode}`] = 1;
      const remove: string[] = [];
      const failing = to === 'failed' || to === 'undelivered';
      if (failing && details.retryAt) {
        // Indexed as a due retry; counted so the broadcast is not final while it waits.
        set.nextRetryAt = details.retryAt.toISOString();
        set.retryShard = `RETRY#${key.index % RETRY_SHARDS}`;
        counters.r_pending = 1;
      } else if (current.nextRetryAt) {
        // A better outcome after all (delivered after undelivered): the scheduled retry is moot.
        remove.push('nextRetryAt', 'retryShard');
        counters.r_pending = -1;
      }
      const wasSuccess =
        current.status === 'sent' || current.status === 'delivered' || current.status === 'read';
      const activity = failing
        ? 'failed'
        : to === 'sent' || (!wasSuccess && (to === 'delivered' || to === 'read'))
          ? 'sent'
          : undefined;
      const result = await this.move(
        key,
        { from: current.status, to, attempt: current.attempts },
        { set, remove, counters, ...(activity ? { activity, at: details.at } : {}) },
      );
      if (result.moved) return result;
    }
    return { moved: false, current: await this.getRecipient(key) };
  }

  async findRecipientBySid(sid: string): Promise<MessageRef | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: sidKey(sid) }));
    return Item
      ? {
          tenantId: String(Item.tenantId),
          broadcastId: String(Item.broadcastId),
          index: Number(Item.index),
          kind: Item.kind === 'followUp' ? 'followUp' : 'template',
        }
      : undefined;
  }

  private async indexSid(key: RecipientKey, sid: string, fields: Record<string, unknown>): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...sidKey(sid),
          tenantId: key.tenantId,
          broadcastId: key.broadcastId,
          index: key.index,
          ...fields,
        },
      }),
    );
  }

  async confirm(key: RecipientKey, at: Date, followUp: 'queued' | 'expired'): Promise<MoveResult> {
    const stamp = at.toISOString();
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: recipientKey(key.broadcastId, key.index),
                UpdateExpression: 'SET confirmedAt = :at, followUp = :followUp, updatedAt = :at',
                // Once: a second tap, or Twilio delivering the same tap again, confirms nothing more.
                ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(confirmedAt)',
                ExpressionAttributeValues: {
                  ':at': stamp,
                  ':followUp': { status: followUp, updatedAt: stamp },
                },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: countsKey(key.broadcastId, shardOf(key.index)),
                ...addExpression({ f_confirmed: 1, [`f_${followUp}`]: 1 }),
              },
            },
          ],
        }),
      );
      return { moved: true };
    } catch (error) {
      if (error instanceof TransactionCanceledException) return { moved: false };
      throw error;
    }
  }

  claimFollowUp(key: RecipientKey, now: Date, leaseSeconds: number): Promise<MoveResult> {
    return this.moveFollowUp(key, 'queued', 'sending', {
      claimedAt: now.toISOString(),
      leaseUntil: new Date(now.getTime() + leaseSeconds * 1000).toISOString(),
      updatedAt: now.toISOString(),
    });
  }

  releaseFollowUpClaim(key: RecipientKey, now: Date): Promise<MoveResult> {
    return this.moveFollowUp(
      key,
      'sending',
      'queued',
      { updatedAt: now.toISOString() },
      // Once a SID is known, Twilio has the message: never send it again.
      'attribute_not_exists(followUp.messageSid)',
    );
  }

  async recordFollowUpSid(key: RecipientKey, sid: string): Promise<void> {
    await this.indexSid(key, sid, { kind: 'followUp' });
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recipientKey(key.broadcastId, key.index),
          UpdateExpression: 'SET followUp.messageSid = :sid',
          ConditionExpression: 'attribute_exists(followUp) AND attribute_not_exists(followUp.messageSid)',
          ExpressionAttributeValues: { ':sid': sid },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async advanceFollowUp(
    key: RecipientKey,
    to: FollowUpStatus,
    details: {
      at: Date;
      errorCode?: number;
      errorMessage?: string;
      messageSid?: string;
      current?: Recipient;
    },
  ): Promise<MoveResult> {
    for (let tries = 0; tries < 5; tries++) {
      const current = tries === 0 && details.current ? details.current : await this.getRecipient(key);
      const from = current?.followUp?.status;
      if (!current || !from || !canAdvanceFollowUp(from, to))
        return current ? { moved: false, current } : { moved: false };
      const result = await this.moveFollowUp(key, from, to, forwardFields(to, details, current.followUp));
      if (result.moved) return result;
    }
    return { moved: false };
  }

  /** The follow-up's status `from` → `to` with its counter shard, atomically (like `move`). */
  private async moveFollowUp(
    key: RecipientKey,
    from: FollowUpStatus,
    to: FollowUpStatus,
    set: Record<string, unknown>,
    condition?: string,
  ): Promise<MoveResult> {
    const update = updateExpression({ status: to, ...set }, [], 'followUp');
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: recipientKey(key.broadcastId, key.index),
                UpdateExpression: update.expression,
                ConditionExpression: `#p.#cond_status = :cond_from${condition ? ` AND ${condition}` : ''}`,
                ExpressionAttributeNames: { ...update.names, '#cond_status': 'status' },
                ExpressionAttributeValues: { ...update.values, ':cond_from': from },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: countsKey(key.broadcastId, shardOf(key.index)),
                ...addExpression({ [`f_${from}`]: -1, [`f_${to}`]: 1 }),
              },
            },
          ],
        }),
      );
      return { moved: true };
    } catch (error) {
      if (error instanceof TransactionCanceledException) return { moved: false };
      throw error;
    }
  }

  async markRunning(tenantId: string, broadcastId: string, now: Date): Promise<void> {
    await this.setStatusIf(tenantId, broadcastId, ['accepted', 'queued'], 'running', {
      startedAt: now.toISOString(),
    });
  }

  async finalizeIfDone(
    broadcast: Broadcast,
    now: Date,
    movedOutOfFlight?: RecipientKey,
  ): Promise<string | undefined> {
    if (movedOutOfFlight) {
      // Read after the caller's own move committed: the last recipient of a shard to leave flight
      // always sees zero here, so no final state is missed.
      const { Item } = await this.db.send(
        new GetCommand({
          TableName: this.table,
          Key: countsKey(broadcast.broadcastId, shardOf(movedOutOfFlight.index)),
          ConsistentRead: true,
        }),
      );
      if (Number(Item?.c_queued ?? 0) + Number(Item?.c_sending ?? 0) > 0) return undefined;
    }
    const { counts, retriesPending } = await this.getCounts(broadcast);
    const final = finalBroadcastStatus(counts, { retryPending: retriesPending > 0 });
    const { tenantId, broadcastId } = broadcast;
    if (counts.pending + counts.queued + counts.sending === 0)
      // A cancelled broadcast whose last recipients have settled leaves the active index.
      await this.setStatusIf(tenantId, broadcastId, ['cancelled'], 'cancelled', {}, ['active', 'activeKey']);
    if (!final) {
      // A retry was scheduled (or re-queued) after the broadcast looked final: it runs again.
      await this.setStatusIf(
        tenantId,
        broadcastId,
        ['completed', 'partial', 'failed'],
        'running',
        activeFields(broadcast),
        ['completedAt'],
      );
      return undefined;
    }
    // A late provider outcome (undelivered after sent) may turn `completed` into `partial`: the
    // status follows the counts among the final ones, but nothing leaves `cancelled`.
    await this.setStatusIf(
      tenantId,
      broadcastId,
      ['accepted', 'queued', 'running', 'completed', 'partial', 'failed'].filter((s) => s !== final),
      final,
      { completedAt: now.toISOString() },
      ['active', 'activeKey'],
    );
    return final;
  }

  async dueRetries(now: Date, limit: number): Promise<(RecipientKey & { attempt: number })[]> {
    const due: (RecipientKey & { attempt: number })[] = [];
    for (let shard = 0; shard < RETRY_SHARDS && due.length < limit; shard++) {
      const items = await this.queryAll(
        {
          IndexName: 'dueRetries',
          KeyConditionExpression: 'retryShard = :shard AND nextRetryAt <= :now',
          ExpressionAttributeValues: { ':shard': `RETRY#${shard}`, ':now': now.toISOString() },
        },
        limit - due.length,
      );
      for (const item of items)
        due.push({
          tenantId: String(item.tenantId),
          broadcastId: String(item.broadcastId),
          index: Number(item.index),
          attempt: Number(item.attempts),
        });
    }
    return due;
  }

  async requeueForRetry(key: RecipientKey, attempt: number, now: Date): Promise<MoveResult> {
    const current = await this.getRecipient(key);
    if (
      !current ||
      current.attempts !== attempt ||
      (current.status !== 'failed' && current.status !== 'undelivered')
    )
      return current ? { moved: false, current } : { moved: false };
    // The new attempt starts clean: its SID, timestamps and outcome are its own.
    return this.move(
      key,
      { from: current.status, to: 'queued', attempt },
      {
        set: { attempts: attempt + 1, queuedAt: now.toISOString(), updatedAt: now.toISOString() },
        remove: [
          'nextRetryAt',
          'retryShard',
          'messageSid',
          'claimedAt',
          'leaseUntil',
          'sentAt',
          'deliveredAt',
          'readAt',
          'errorCode',
          'errorMessage',
        ],
        counters: current.nextRetryAt ? { r_pending: -1 } : {},
      },
    );
  }

  async dropRetry(key: RecipientKey, attempt: number): Promise<void> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: recipientKey(key.broadcastId, key.index),
                UpdateExpression: 'REMOVE nextRetryAt, retryShard',
                ConditionExpression: 'attempts = :a AND attribute_exists(nextRetryAt)',
                ExpressionAttributeValues: { ':a': attempt },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: countsKey(key.broadcastId, shardOf(key.index)),
                ...addExpression({ r_pending: -1 }),
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
    }
  }

  cancelBroadcast(tenantId: string, broadcastId: string, now: Date): Promise<boolean> {
    return this.setStatusIf(
      tenantId,
      broadcastId,
      ['scheduled', 'accepted', 'queued', 'running'],
      'cancelled',
      // It stays in the active index until its last recipients settle (the sweeper watches it).
      { cancelledAt: now.toISOString(), completedAt: now.toISOString() },
    );
  }

  async activeBroadcasts(tenantId?: string): Promise<Broadcast[]> {
    const items = await this.queryAll({
      IndexName: 'activeBroadcasts',
      KeyConditionExpression: tenantId
        ? 'active = :active AND begins_with(activeKey, :tenant)'
        : 'active = :active',
      ExpressionAttributeValues: { ':active': ACTIVE, ...(tenantId ? { ':tenant': `${tenantId}#` } : {}) },
    });
    return items.map(toBroadcast);
  }

  async unexpandedChunks(broadcast: Broadcast): Promise<number[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `BROADCAST#${broadcast.broadcastId}`, ':prefix': 'CHUNK#' },
      ProjectionExpression: 'sk, expanded',
    });
    return items
      .filter((item) => !item.expanded)
      .map((item) => Number(String(item.sk).slice('CHUNK#'.length)));
  }

  async recipientsIn(broadcast: Broadcast, statuses: readonly RecipientStatus[]): Promise<Recipient[]> {
    const values = Object.fromEntries(statuses.map((status, n) => [`:s${n}`, status]));
    const found: Recipient[] = [];
    for (let shard = 0; shard < SHARDS; shard++) {
      const items = await this.queryAll({
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: `#status IN (${Object.keys(values).join(', ')})`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':pk': shardPk(broadcast.broadcastId, shard),
          ':prefix': 'R#',
          ...values,
        },
      });
      found.push(...items.map(toRecipient));
    }
    return found;
  }

  async noteSweep(broadcast: Broadcast, countsSignature: string): Promise<boolean> {
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: broadcastKey(broadcast.tenantId, broadcast.broadcastId),
        UpdateExpression: 'SET sweepSignature = :sig',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':sig': countsSignature },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    return Attributes?.sweepSignature === countsSignature;
  }

  async recentActivity(
    tenantId: string,
    now: Date,
    minutes: number,
  ): Promise<{ sent: number; failed: number }> {
    const keys: Record<string, unknown>[] = [];
    for (let m = 0; m < minutes; m++) {
      const minute = new Date(now.getTime() - m * 60_000);
      for (let shard = 0; shard < ACTIVITY_SHARDS; shard++) keys.push(activityKey(tenantId, shard, minute));
    }
    const items = await this.batchGet(keys);
    let sent = 0;
    let failed = 0;
    for (const item of items) {
      sent += Number(item.sent ?? 0);
      failed += Number(item.failed ?? 0);
    }
    return { sent, failed };
  }

  /**
   * One recipient status move and its counter changes, atomically, conditioned on where the move
   * starts (status and attempt). `counters` adds to the recipient's counter shard besides the
   * status move itself (error codes, pending retries); `activity` counts sends and failures for
   * the tenant's metrics in the same transaction.
   */
  private async move(
    key: RecipientKey,
    step: { from: RecipientStatus; to: RecipientStatus; attempt: number },
    change: {
      set?: Record<string, unknown>;
      remove?: readonly string[];
      counters?: Record<string, number>;
      activity?: 'sent' | 'failed';
      at?: Date;
      /** A further condition on the recipient, ANDed with the move's start. */
      condition?: string;
    } = {},
  ): Promise<MoveResult> {
    const update = updateExpression({ status: step.to, ...change.set }, change.remove ?? []);
    const counters: Record<string, number> = {
      [`c_${step.from}`]: -1,
      [`c_${step.to}`]: 1,
      ...change.counters,
    };
    const items: NonNullable<TransactWriteCommandInput['TransactItems']> = [
      {
        Update: {
          TableName: this.table,
          Key: recipientKey(key.broadcastId, key.index),
          UpdateExpression: update.expression,
          ConditionExpression: `#cond_status = :cond_from AND attempts = :cond_attempt${change.condition ? ` AND ${change.condition}` : ''}`,
          ExpressionAttributeNames: { ...update.names, '#cond_status': 'status' },
          ExpressionAttributeValues: {
            ...update.values,
            ':cond_from': step.from,
            ':cond_attempt': step.attempt,
          },
        },
      },
      {
        Update: {
          TableName: this.table,
          Key: countsKey(key.broadcastId, shardOf(key.index)),
          ...addExpression(counters),
        },
      },
    ];
    if (change.activity) {
      const at = change.at ?? new Date();
      items.push({
        Update: {
          TableName: this.table,
          Key: activityKey(key.tenantId, key.index, at),
          ...addExpression(
            { [change.activity]: 1 },
            { expiresAt: Math.floor(at.getTime() / 1000) + ACTIVITY_TTL_SECONDS },
          ),
        },
      });
    }
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return { moved: true };
    } catch (error) {
      if (error instanceof TransactionCanceledException) return { moved: false };
      throw error;
    }
  }

  /** Broadcast status `from` one of those given → `to`, with fields set and removed; false when not in `from`. */
  private async setStatusIf(
    tenantId: string,
    broadcastId: string,
    from: readonly string[],
    to: string,
    set: Record<string, unknown>,
    remove: readonly string[] = [],
  ): Promise<boolean> {
    if (from.length === 0) return false;
    const update = updateExpression({ status: to, ...set }, remove);
    const fromValues = Object.fromEntries(from.map((status, n) => [`:from${n}`, status]));
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: broadcastKey(tenantId, broadcastId),
          UpdateExpression: update.expression,
          ConditionExpression: `#cond_status IN (${Object.keys(fromValues).join(', ')})`,
          ExpressionAttributeNames: { ...update.names, '#cond_status': 'status' },
          ExpressionAttributeValues: { ...update.values, ...fromValues },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Every item a query finds (following its pages), or the first `limit` of them. */
  private async queryAll(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit'>,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          ...input,
          TableName: this.table,
          ExclusiveStartKey: startKey,
          ...(Number.isFinite(limit) ? { Limit: limit - items.length } : {}),
        }),
      );
      items.push(...(result.Items ?? []));
      startKey = result.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return items;
  }

  private async batchPut(items: Record<string, unknown>[]): Promise<void> {
    for (let start = 0; start < items.length; start += 25) {
      let pending = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let tries = 0; pending.length > 0; tries++) {
        if (tries > 8) throw new Error('DynamoDB kept throttling a batch write');
        const result = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending } }));
        pending = (result.UnprocessedItems?.[this.table] ?? []) as typeof pending;
        if (pending.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** tries));
      }
    }
  }

  private async batchGet(keys: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const found: Record<string, unknown>[] = [];
    let pending = keys;
    for (let tries = 0; pending.length > 0; tries++) {
      if (tries > 8) throw new Error('DynamoDB kept throttling a batch read');
      const result = await this.db.send(
        new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
      );
      found.push(...(result.Responses?.[this.table] ?? []));
      pending = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
      if (pending.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** tries));
    }
    return found;
  }
}

/** The send tasks for recipients handed back by expandChunk. */
export function sendTasksFor(recipients: readonly Recipient[]): SendTask[] {
  return recipients.map((r) => ({
    tenantId: r.tenantId,
    broadcastId: r.broadcastId,
    index: r.index,
    attempt: r.attempts,
  }));
}

function newRecipient(
  broadcast: Broadcast,
  entry: ChunkEntry,
  now: string,
  status: 'queued' | 'cancelled' | 'skipped',
): Recipient {
  return {
    tenantId: broadcast.tenantId,
    broadcastId: broadcast.broadcastId,
    index: entry.index,
    phone: entry.phone,
    contentVariables: entry.contentVariables,
    status,
    attempts: 1,
    ...(status === 'queued' ? { queuedAt: now } : {}),
    ...(status === 'skipped' ? { errorMessage: SUPPRESSED_MESSAGE } : {}),
    updatedAt: now,
  };
}

/**
 * The fields a forward move sets on a ledger (the recipient's, or its follow-up's): the status's
 * timestamp, those of steps it skipped (a lost `sent` callback), the error, and the SID if unknown.
 */
function forwardFields(
  to: FollowUpStatus,
  details: { at: Date; errorCode?: number; errorMessage?: string; messageSid?: string },
  ledger: { sentAt?: string; deliveredAt?: string; messageSid?: string } | undefined,
): Record<string, unknown> {
  const at = details.at.toISOString();
  const set: Record<string, unknown> = { updatedAt: at };
  const stamp = TIMESTAMP_OF[to as RecipientStatus];
  if (stamp) set[stamp] = at;
  if ((to === 'delivered' || to === 'read') && !ledger?.sentAt) set.sentAt = at;
  if (to === 'read' && !ledger?.deliveredAt) set.deliveredAt = at;
  if (details.errorCode !== undefined) set.errorCode = details.errorCode;
  if (details.errorMessage !== undefined) set.errorMessage = details.errorMessage;
  if (details.messageSid && !ledger?.messageSid) set.messageSid = details.messageSid;
  return set;
}

/**
 * `SET a = :v0, b = :v1 REMOVE c, d` with placeholders for every name; with `within`, the fields
 * are those of that map attribute (`#p.a`), named `#p`.
 */
function updateExpression(set: Record<string, unknown>, remove: readonly string[], within?: string) {
  const names: Record<string, string> = within ? { '#p': within } : {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  const path = within ? '#p.' : '';
  Object.entries(set).forEach(([field, value], n) => {
    names[`#s${n}`] = field;
    values[`:s${n}`] = value;
    sets.push(`${path}#s${n} = :s${n}`);
  });
  const removes = remove.map((field, n) => {
    names[`#r${n}`] = field;
    return `${path}#r${n}`;
  });
  const expression = `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`;
  return { expression, names, values };
}

/** `ADD a :a0, b :a1` (and `SET` for plain fields, e.g. a TTL) as an update's expression parts. */
function addExpression(adds: Record<string, number>, set: Record<string, unknown> = {}) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const parts = Object.entries(adds)
    .filter(([, delta]) => delta !== 0)
    .map(([field, delta], n) => {
      names[`#a${n}`] = field;
      values[`:a${n}`] = delta;
      return `#a${n} :a${n}`;
    });
  const sets = Object.entries(set).map(([field, value], n) => {
    names[`#t${n}`] = field;
    values[`:t${n}`] = value;
    return `#t${n} = :t${n}`;
  });
  const expression = [
    sets.length > 0 ? `SET ${sets.join(', ')}` : '',
    parts.length > 0 ? `ADD ${parts.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return { UpdateExpression: expression, ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

/** The attributes that put a broadcast in the activeBroadcasts index while it is not final. */
function activeFields(broadcast: Pick<Broadcast, 'tenantId' | 'broadcastId'>) {
  return { active: ACTIVE, activeKey: `${broadcast.tenantId}#${broadcast.broadcastId}` };
}

function toBroadcast(item: Record<string, unknown>): Broadcast {
  return strip(item) as unknown as Broadcast;
}

function toRecipient(item: Record<string, unknown>): Recipient {
  return strip(item) as unknown as Recipient;
}
