import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { listExpiresAt } from '../core/chunks.ts';
import { decodeItemCursor, encodeItemCursor } from '../core/cursor.ts';
import { EXPLICIT_IDEMPOTENCY_WINDOW_SECONDS } from '../core/idempotency.ts';
import type { Broadcast, Broadcasts, ChunkEntry, StoredChunk } from '../core/ports.ts';
import type { WaitReason } from '../core/send-timing.ts';
import type { RecipientSkipReason as SkipReason } from '../core/skips.ts';
import { CANCELLABLE_BROADCAST_STATUSES, isPausable } from '../core/statuses.ts';
import {
  addExpression,
  batchGet,
  batchPut,
  type Item,
  isConditionFailure,
  queryAll,
  strip,
  type TransactItems,
  transactWrite,
  updateExpression,
} from './dynamo-items.ts';
import {
  ACTIVE,
  activeFields,
  broadcastKey,
  broadcastPartition,
  chunkKey,
  FANOUT_PREFIX,
  fanOutCountsKey,
  fanOutStateKey,
  fingerprintKey,
  idemKey,
} from './table-layout.ts';

/** The sort keys a list cursor may name (core/cursor.ts checks them). */
const BROADCAST_SK = /^BROADCAST#brd_[0-9A-Z]{1,32}$/;

/** Broadcast items, their stored chunks and the fan-out's progress, on the single table (table-layout.ts). */
export class DynamoBroadcasts implements Broadcasts {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async create(
    broadcast: Broadcast,
    chunks: readonly (readonly ChunkEntry[])[],
    idempotency: { key?: string; fingerprintExpiresAt: number },
  ): ReturnType<Broadcasts['create']> {
    const nowSeconds = Math.floor(Date.now() / 1000);
    // Chunks first: if the broadcast write then loses a race, they are orphans that expire.
    await batchPut(
      this.#db,
      this.#table,
      chunks.map((entries, n) => ({
        ...chunkKey(broadcast.broadcastId, n),
        entries: entries.map((e) => ({
          i: e.index,
          p: e.phone,
          v: e.contentVariables,
          ...(e.skipped ? { s: 1 } : {}),
          ...(e.skipped && e.skipReason ? { sr: e.skipReason } : {}),
          ...(e.notBefore ? { nb: e.notBefore } : {}),
          ...(e.waitReason ? { wr: e.waitReason } : {}),
          ...(e.limitHour !== undefined ? { lh: e.limitHour } : {}),
          ...(e.timeZone ? { tz: e.timeZone } : {}),
        })),
        // A scheduled broadcast's list must outlive its wait: the month counts from its start.
        expiresAt: listExpiresAt(broadcast),
      })),
    );
    const items: TransactItems = [
      {
        Put: {
          TableName: this.#table,
          Item: {
            ...broadcastKey(broadcast.tenantId, broadcast.broadcastId),
            ...broadcast,
            ...activeFields(broadcast),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        // Always: a keyless repeat of a keyed request within the window finds it too.
        Put: {
          TableName: this.#table,
          Item: {
            ...fingerprintKey(broadcast.tenantId, broadcast.fingerprint),
            broadcastId: broadcast.broadcastId,
            expiresAt: idempotency.fingerprintExpiresAt,
          },
          // An expired record may still be there (TTL deletes lazily): it no longer counts.
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': nowSeconds },
        },
      },
    ];
    if (idempotency.key)
      items.push({
        Put: {
          TableName: this.#table,
          Item: {
            ...idemKey(broadcast.tenantId, idempotency.key),
            broadcastId: broadcast.broadcastId,
            fingerprint: broadcast.bodyFingerprint,
            expiresAt: nowSeconds + EXPLICIT_IDEMPOTENCY_WINDOW_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    const result = await transactWrite(this.#db, items);
    if (result.written) return { created: true };
    // A concurrent identical request (or the same key) won: answer with its broadcast.
    if (idempotency.key && result.failed[2]) {
      const byKey = await this.findByIdempotencyKey(broadcast.tenantId, idempotency.key);
      if (byKey)
        return {
          created: false,
          existingBroadcastId: byKey.broadcastId,
          fingerprintMatches: byKey.fingerprint === broadcast.bodyFingerprint,
        };
    }
    if (result.failed[1]) {
      const byFingerprint = await this.findByFingerprint(
        broadcast.tenantId,
        broadcast.fingerprint,
        new Date(),
      );
      if (byFingerprint) {
        if (idempotency.key)
          await this.rememberKey(
            broadcast.tenantId,
            idempotency.key,
            byFingerprint,
            broadcast.bodyFingerprint,
          );
        return { created: false, existingBroadcastId: byFingerprint, fingerprintMatches: true };
      }
    }
    throw new Error(`Broadcast ${broadcast.broadcastId} lost a race and no winner was found`);
  }

  async findByIdempotencyKey(tenantId: string, key: string) {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: idemKey(tenantId, key), ConsistentRead: true }),
    );
    return Item
      ? { broadcastId: String(Item.broadcastId), fingerprint: String(Item.fingerprint) }
      : undefined;
  }

  async findByFingerprint(tenantId: string, fingerprint: string, now: Date) {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: fingerprintKey(tenantId, fingerprint),
        ConsistentRead: true,
      }),
    );
    if (!Item || Number(Item.expiresAt) < Math.floor(now.getTime() / 1000)) return undefined;
    return String(Item.broadcastId);
  }

  async rememberKey(tenantId: string, key: string, broadcastId: string, bodyFingerprint: string) {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...idemKey(tenantId, key),
            broadcastId,
            fingerprint: bodyFingerprint,
            expiresAt: Math.floor(Date.now() / 1000) + EXPLICIT_IDEMPOTENCY_WINDOW_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error; // a concurrent repeat remembered it first
    }
  }

  async get(tenantId: string, broadcastId: string): Promise<Broadcast | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: broadcastKey(tenantId, broadcastId),
        ConsistentRead: true,
      }),
    );
    return Item ? toBroadcast(Item) : undefined;
  }

  async page(tenantId: string, page: { limit: number; cursor?: string; status?: string; test?: boolean }) {
    const items: Broadcast[] = [];
    const partition = `TENANT#${tenantId}`;
    let startKey: Item | undefined = page.cursor
      ? { ...decodeItemCursor('broadcasts', page.cursor, { pk: partition, sk: BROADCAST_SK }) }
      : undefined;
    // A status filter is applied after the read, so keep reading until the page is full; one item
    // more than the page is asked for, so the last page hands out no cursor.
    let more = false;
    do {
      const result = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': partition,
            ':prefix': 'BROADCAST#',
            ...(page.status ? { ':status': page.status } : {}),
            ...(page.test === true ? { ':test': true } : {}),
          },
          ...listFilter(page),
          ScanIndexForward: false,
          Limit: page.limit + 1 - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) items.push(toBroadcast(item));
      startKey = result.LastEvaluatedKey;
      more = items.length > page.limit;
    } while (startKey && !more);
    const shown = items.slice(0, page.limit);
    const last = shown.at(-1);
    return {
      items: shown,
      ...((more || (startKey && shown.length === page.limit)) && last
        ? { nextCursor: encodeItemCursor('broadcasts', broadcastKey(tenantId, last.broadcastId)) }
        : {}),
    };
  }

  async active(tenantId?: string): Promise<Broadcast[]> {
    const items = await queryAll(this.#db, {
      TableName: this.#table,
      IndexName: 'activeBroadcasts',
      KeyConditionExpression: tenantId
        ? 'active = :active AND begins_with(activeKey, :tenant)'
        : 'active = :active',
      ExpressionAttributeValues: { ':active': ACTIVE, ...(tenantId ? { ':tenant': `${tenantId}#` } : {}) },
    });
    return items.map(toBroadcast);
  }

  async readChunk(broadcastId: string, chunk: number): Promise<StoredChunk> {
    const items = await batchGet(this.#db, this.#table, [
      chunkKey(broadcastId, chunk),
      fanOutStateKey(broadcastId, chunk),
    ]);
    const stored = items.find((item) => String(item.sk).startsWith('CHUNK#'));
    const progress = items.find((item) => String(item.sk).startsWith(FANOUT_PREFIX));
    if (!stored) throw new Error(`Chunk ${chunk} of ${broadcastId} is missing`);
    const entries = (
      stored.entries as {
        i: number;
        p: string;
        v: Record<string, string>;
        s?: number;
        sr?: SkipReason;
        nb?: string;
        wr?: WaitReason;
        lh?: number;
        tz?: string;
      }[]
    ).map((e) => ({
      index: e.i,
      phone: e.p,
      contentVariables: e.v,
      ...(e.s ? { skipped: true } : {}),
      ...(e.s && e.sr ? { skipReason: e.sr } : {}),
      ...(e.nb ? { notBefore: e.nb } : {}),
      ...(e.wr ? { waitReason: e.wr } : {}),
      ...(e.lh !== undefined ? { limitHour: e.lh } : {}),
      ...(e.tz ? { timeZone: e.tz } : {}),
    }));
    const state =
      progress?.state === 'counted' || progress?.state === 'enqueued' ? progress.state : undefined;
    return { entries, ...(state ? { state } : {}) };
  }

  async countChunk(broadcast: Broadcast, chunk: number, size: number): Promise<boolean> {
    const result = await transactWrite(this.#db, [
      {
        Put: {
          TableName: this.#table,
          Item: {
            ...fanOutStateKey(broadcast.broadcastId, chunk),
            state: 'counted',
            expiresAt: listExpiresAt(broadcast),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Update: {
          TableName: this.#table,
          Key: fanOutCountsKey(broadcast.broadcastId),
          ...addExpression({ c_queued: size, chunksCounted: 1 }),
        },
      },
    ]);
    return result.written;
  }

  async chunkEnqueued(broadcast: Broadcast, chunk: number): Promise<void> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: fanOutStateKey(broadcast.broadcastId, chunk),
          UpdateExpression: 'SET #state = :enqueued',
          ConditionExpression: '#state = :counted',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':enqueued': 'enqueued', ':counted': 'counted' },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return; // marked before (a redelivered fan-out task)
      throw error;
    }
    const { Attributes } = await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: fanOutCountsKey(broadcast.broadcastId),
        UpdateExpression: 'ADD chunksEnqueued :one',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    if (Number(Attributes?.chunksEnqueued) >= broadcast.chunkCount)
      await this.#setStatusIf(broadcast.tenantId, broadcast.broadcastId, ['accepted'], 'queued', {});
  }

  async unfinishedChunks(broadcast: Broadcast): Promise<number[]> {
    const items = await queryAll(this.#db, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': broadcastPartition(broadcast.broadcastId),
        ':prefix': FANOUT_PREFIX,
      },
      ConsistentRead: true,
    });
    const enqueued = new Set(
      items
        .filter((item) => item.state === 'enqueued')
        .map((item) => Number(String(item.sk).slice(FANOUT_PREFIX.length))),
    );
    return Array.from({ length: broadcast.chunkCount }, (_, n) => n).filter((n) => !enqueued.has(n));
  }

  startScheduled(tenantId: string, broadcastId: string): Promise<boolean> {
    return this.#setStatusIf(tenantId, broadcastId, ['scheduled'], 'accepted', {});
  }

  async markRunning(tenantId: string, broadcastId: string, at: Date): Promise<boolean> {
    return this.#setStatusIf(tenantId, broadcastId, ['accepted', 'queued'], 'running', {
      startedAt: at.toISOString(),
    });
  }

  async pause(tenantId: string, broadcastId: string, at: Date, reason: string) {
    // Conditional on the status read, which it remembers: a concurrent move (queued → running) reads again.
    for (let tries = 0; tries < 4; tries++) {
      const current = await this.get(tenantId, broadcastId);
      if (!current || !isPausable(current.status)) return current;
      const paused = { pausedAt: at.toISOString(), pauseReason: reason, pausedFrom: current.status };
      if (await this.#setStatusIf(tenantId, broadcastId, [current.status], 'paused', paused))
        return { ...current, status: 'paused' as const, ...paused };
    }
    return this.get(tenantId, broadcastId);
  }

  async resume(tenantId: string, broadcastId: string, at: Date) {
    const current = await this.get(tenantId, broadcastId);
    if (current?.status !== 'paused') return undefined;
    const to = current.pausedFrom ?? 'running';
    const resumed = { resumedAt: at.toISOString() };
    if (
      !(await this.#setStatusIf(tenantId, broadcastId, ['paused'], to, resumed, [
        'pausedAt',
        'pauseReason',
        'pausedFrom',
      ]))
    )
      return undefined;
    const { pausedAt: _p, pauseReason: _r, pausedFrom: _f, ...rest } = current;
    return { ...rest, status: to, ...resumed };
  }

  async decideCanary(broadcast: Broadcast, decided: Parameters<Broadcasts['decideCanary']>[1]) {
    const fields = Object.fromEntries(Object.entries(decided).filter(([, v]) => v !== undefined));
    const update = updateExpression(fields, [], { within: 'canary' });
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: broadcastKey(broadcast.tenantId, broadcast.broadcastId),
          UpdateExpression: update.expression,
          ConditionExpression: '#p.decision = :waiting',
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: { ...update.values, ':waiting': 'waiting' },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  cancel(tenantId: string, broadcastId: string, at: Date): Promise<boolean> {
    // It stays in the active index until its last sends settle (the aggregator and sweeper watch it).
    return this.#setStatusIf(tenantId, broadcastId, CANCELLABLE_BROADCAST_STATUSES, 'cancelled', {
      cancelledAt: at.toISOString(),
      completedAt: at.toISOString(),
    });
  }

  finish(broadcast: Broadcast, status: 'completed' | 'partial' | 'failed', at: Date): Promise<boolean> {
    // A late provider outcome (undelivered after sent) may turn `completed` into `partial`; nothing
    // leaves `cancelled`, `scheduled` or `paused` (use-cases/settle-broadcast.ts says why): the
    // condition keeps a pause that lands between the settle's read and this write.
    return this.#setStatusIf(
      broadcast.tenantId,
      broadcast.broadcastId,
      ['accepted', 'queued', 'running', 'completed', 'partial', 'failed'].filter((s) => s !== status),
      status,
      { completedAt: at.toISOString() },
      ['active', 'activeKey'],
    );
  }

  async settleCancelled(broadcast: Broadcast): Promise<void> {
    await this.#setStatusIf(broadcast.tenantId, broadcast.broadcastId, ['cancelled'], 'cancelled', {}, [
      'active',
      'activeKey',
    ]);
  }

  reopen(broadcast: Broadcast): Promise<boolean> {
    return this.#setStatusIf(
      broadcast.tenantId,
      broadcast.broadcastId,
      ['completed', 'partial', 'failed'],
      'running',
      activeFields(broadcast),
      ['completedAt'],
    );
  }

  async noteSweep(broadcast: Broadcast, countsSignature: string, at: Date): Promise<Date> {
    const key = broadcastKey(broadcast.tenantId, broadcast.broadcastId);
    try {
      // Unchanged since the last sweep: keep the time they were first seen so.
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key,
          UpdateExpression: 'SET sweepSince = if_not_exists(sweepSince, :at)',
          ConditionExpression: 'sweepSignature = :sig',
          ExpressionAttributeValues: { ':sig': countsSignature, ':at': at.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return new Date(String(Attributes?.sweepSince ?? at.toISOString()));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: key,
        UpdateExpression: 'SET sweepSignature = :sig, sweepSince = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':sig': countsSignature, ':at': at.toISOString() },
      }),
    );
    return at;
  }

  /** Broadcast status `from` one of those given → `to`, with fields set and removed; false when not in `from`. */
  async #setStatusIf(
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
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
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
}

/** The list's filter after the read: its status, and whether test sends are shown (test: true) or not. */
function listFilter(page: { status?: string; test?: boolean }) {
  const conditions: string[] = [];
  const names: Record<string, string> = {};
  if (page.status) {
    conditions.push('#status = :status');
    names['#status'] = 'status';
  }
  if (page.test !== undefined) {
    conditions.push(page.test ? '#test = :test' : 'attribute_not_exists(#test)');
    names['#test'] = 'test';
  }
  return conditions.length > 0
    ? { FilterExpression: conditions.join(' AND '), ExpressionAttributeNames: names }
    : {};
}

function toBroadcast(item: Item): Broadcast {
  const {
    active: _active,
    activeKey: _activeKey,
    sweepSignature: _sweep,
    sweepSince: _since,
    ...rest
  } = strip(item);
  return rest as unknown as Broadcast;
}
