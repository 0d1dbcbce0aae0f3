import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcasts } from '../../functions/adapters/dynamo-broadcasts.ts';
import { DynamoContactStore } from '../../functions/adapters/dynamo-contact-store.ts';
import { DynamoCounters } from '../../functions/adapters/dynamo-counters.ts';
import { DynamoSendLedger } from '../../functions/adapters/dynamo-send-ledger.ts';
import { SHARDS, shardCountsKey } from '../../functions/adapters/table-layout.ts';
import type { CounterDeltas } from '../../functions/core/count-deltas.ts';
import type { CounterUpdate, RecipientKey, SendTask } from '../../functions/core/ports.ts';
import { settle } from '../../functions/use-cases/settle-broadcast.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { numberedEntries, storeBroadcast } from '../support/broadcasts.ts';
import { type CountsStream, startCountsStream, untilCountsMatchLedger } from '../support/counts-stream.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

/**
 * Counts follow from the table's stream, exactly once (functions/adapters/dynamo-counters.ts,
 * functions/use-cases/aggregate-counts.ts): DynamoCounters.apply on its own, then the aggregator
 * behind the twin's own stream event source, with and without a handler that fails.
 */
const TENANT = 'tenant-counts';
let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let broadcasts: DynamoBroadcasts;
let ledger: DynamoSendLedger;
let counters: DynamoCounters;
let stream: CountsStream;
/** While set, the stream's handler fails the first delivery of every batch (after doing part of it). */
let failFirstDeliveries = false;
/** Stream records handed to the handler so far: a batch with one of them in it is a retry. */
const delivered = new Set<string>();
let failedDeliveries = 0;

beforeAll(async () => {
  db = await startTestDynamoDb();
  broadcasts = new DynamoBroadcasts(db.doc, db.tableName);
  ledger = new DynamoSendLedger(db.doc, db.tableName);
  counters = new DynamoCounters(db.doc, db.tableName);
  stream = await startCountsStream(
    db,
    { broadcasts, counters, contacts: new DynamoContactStore(db.doc, db.tableName) },
    {
      wrap: (aggregate) => async (event) => {
        const records = (event as DynamoDBStreamEvent).Records ?? [];
        const sequences = records.map((r) => r.dynamodb?.SequenceNumber ?? '');
        const retry = sequences.some((s) => delivered.has(s));
        for (const s of sequences) delivered.add(s);
        if (!failFirstDeliveries || retry) return aggregate(records);
        failedDeliveries += 1;
        // Alternately: all of the batch counted, or only its first half, and then the invocation fails
        // (a timeout after the writes, a crash halfway): the event source retries it, bisected.
        await aggregate(failedDeliveries % 2 ? records : records.slice(0, Math.ceil(records.length / 2)));
        throw new Error('Task timed out after 30.00 seconds');
      },
    },
  );
}, 60_000);
afterAll(async () => {
  await stream?.stop();
  await db?.stop();
});

let sequence = 0;
const broadcastId = () => `brd_COUNTS${++sequence}`;
const change = (n: number, deltas: CounterDeltas) => ({ sequence: String(n), deltas });
const update = (
  id: string,
  changes: CounterUpdate['changes'],
  tenantId = TENANT,
  changedAt = new Date().toISOString(),
): CounterUpdate => ({ tenantId, broadcastId: id, shard: 'S03', changedAt, changes });
const statusesOf = async (id: string) => (await counters.totals(id)).statuses;

describe('DynamoCounters.apply: each stream change counted once', () => {
  it('a batch applied twice counts once', async () => {
    const id = broadcastId();
    const batch = update(id, [
      change(100, { c_queued: -1, c_sending: 1 }),
      change(101, { c_sending: -1, c_sent: 1 }),
      change(102, { c_queued: -1, c_sending: 1 }),
    ]);
    expect(await counters.apply(batch)).toEqual({
      deltas: { c_queued: -2, c_sending: 1, c_sent: 1 },
      applied: 3,
    });
    expect(await counters.apply(batch)).toEqual({ deltas: {}, applied: 0 });
    expect(await statusesOf(id)).toEqual({ queued: -2, sending: 1, sent: 1 });
  });

  it('keeps when the counts last changed: the latest batch that added something, across shards', async () => {
    const id = broadcastId();
    expect((await counters.totals(id)).changedAt).toBeUndefined();
    const first = update(id, [change(1, { c_sent: 1 })], TENANT, '2026-12-01T10:00:00.000Z');
    await counters.apply(first);
    await counters.apply({
      ...update(id, [change(7, { c_sent: 1 })], TENANT, '2026-12-01T10:00:05.000Z'),
      shard: 'S04',
    });
    await counters.apply(update(id, [change(2, { c_read: 1 })], TENANT, '2026-12-01T10:00:02.000Z'));
    expect((await counters.totals(id)).changedAt).toBe('2026-12-01T10:00:05.000Z');
    // A retried batch that adds nothing (its changes counted before) does not move it.
    await counters.apply({
      ...first,
      shard: 'S04',
      changedAt: '2026-12-01T10:00:09.000Z',
      changes: [change(7, { c_sent: 1 })],
    });
    expect((await counters.totals(id)).changedAt).toBe('2026-12-01T10:00:05.000Z');
  });

  it('a longer retry that overlaps what was applied (a bisected batch retried whole) counts each change once', async () => {
    const id = broadcastId();
    const changes = [1, 2, 3, 4, 5, 6].map((n) => change(n, { [`c_s${n}`]: 1 }));
    expect((await counters.apply(update(id, changes.slice(0, 3)))).deltas).toEqual({
      c_s1: 1,
      c_s2: 1,
      c_s3: 1,
    });
    // The last three are new: the counts say so, and so does `applied` (the aggregator's activity uses it).
    expect(await counters.apply(update(id, changes))).toEqual({
      deltas: { c_s4: 1, c_s5: 1, c_s6: 1 },
      applied: 3,
    });
    // An older part, late: nothing.
    expect(await counters.apply(update(id, changes.slice(1, 2)))).toEqual({ deltas: {}, applied: 0 });
    expect(await statusesOf(id)).toEqual({ s1: 1, s2: 1, s3: 1, s4: 1, s5: 1, s6: 1 });
  });

  it('compares sequence numbers as numbers, not as text (99 < 100)', async () => {
    const id = broadcastId();
    await counters.apply(update(id, [change(98, { c_sent: 1 }), change(99, { c_sent: 1 })]));
    expect(
      (await counters.apply(update(id, [change(100, { c_sent: 1 }), change(101, { c_sent: 1 })]))).deltas,
    ).toEqual({ c_sent: 2 });
    expect(await statusesOf(id)).toEqual({ sent: 4 });
    const { Item } = await db.doc.send(
      new GetCommand({ TableName: db.tableName, Key: shardCountsKey(id, 'S03'), ConsistentRead: true }),
    );
    expect(BigInt(String(Item?.seq))).toBe(101n);
  });

  it('a recount repairs a shard only while no stream batch moved its watermark since it was read', async () => {
    const id = broadcastId();
    await counters.apply(update(id, [change(10, { c_queued: -1, c_sending: 1 })]));
    const seen = (await counters.shardCounts(id)).get('S03');
    expect(seen).toMatchObject({
      fields: expect.objectContaining({ c_sending: 1 }),
      seq: expect.any(String),
    });
    // A batch lands between the recount's read and its write: the repair is refused.
    await counters.apply(update(id, [change(11, { c_sending: -1, c_sent: 1 })]));
    const repair = {
      tenantId: 'tenant-a',
      broadcastId: id,
      shard: 'S03',
      deltas: { c_sent: 5 },
      changedAt: '2099-01-01T00:00:00.000Z',
    };
    expect(await counters.correct({ ...repair, seenSeq: seen?.seq })).toBe(false);
    const now = (await counters.shardCounts(id)).get('S03');
    expect(await counters.correct({ ...repair, seenSeq: now?.seq })).toBe(true);
    expect(await statusesOf(id)).toEqual({ queued: -1, sending: 0, sent: 6 });
    // The repair changed the counts: they say when.
    expect((await counters.totals(id)).changedAt).toBe(repair.changedAt);
    // A shard no batch ever reached: repaired only while it still has no watermark.
    expect(await counters.correct({ ...repair, shard: 'S04', seenSeq: undefined })).toBe(true);
    expect(await counters.correct({ ...repair, shard: 'S03', seenSeq: undefined })).toBe(false);
  });

  it("adds a tenant's per-minute activity, per tenant", async () => {
    const tenant = `tenant-activity-${Date.now()}`;
    const minute = new Date().toISOString().slice(0, 16);
    await counters.addActivity(tenant, minute, { sent: 2, failed: 1 });
    await counters.addActivity(tenant, minute, { sent: 1, failed: 0 });
    expect(await counters.recentActivity(tenant, new Date(), 5)).toEqual({ sent: 3, failed: 1 });
    expect(await counters.recentActivity('another-tenant', new Date(), 5)).toEqual({ sent: 0, failed: 0 });
  });
});

describe('the aggregator on the table stream (the twin’s DynamoDB Streams event source)', {
  timeout: 60_000,
}, () => {
  const entries = (n: number) => numberedEntries(n, '52', false);
  const queued = (n: number, tenantId = TENANT) =>
    storeBroadcast({ broadcasts, ledger }, { tenantId, entries: entries(n), fanOut: true });
  const lease = () => new Date(Date.now() + 60_000);
  const shuffle = <T>(items: T[]) => items.sort(() => Math.random() - 0.5);

  /** Many recipients at once, each through its own story, with duplicated and reordered reports. */
  async function storm(keys: RecipientKey[], tasks: SendTask[]) {
    await pLimit(16).map(keys, async (key, n) => {
      const task = tasks[n] as SendTask;
      await ledger.claim(task, new Date(), lease());
      const report = (to: 'sent' | 'delivered' | 'read' | 'failed' | 'undelivered', more = {}) =>
        ledger.report(key, { to, at: new Date(), attempt: 1, messageSid: `SM${n}`, ...more });
      switch (n % 4) {
        case 0: // delivered and read, each report twice, in any order
          await Promise.all(
            shuffle(['sent', 'delivered', 'read', 'sent', 'read'] as const).map((s) => report(s)),
          );
          return;
        case 1: // not a WhatsApp user
          await Promise.all([
            report('sent'),
            report('failed', { errorCode: 63024 }),
            report('failed', { errorCode: 63024 }),
          ]);
          return;
        case 2: {
          // unreachable, retried: attempt 2 is sent
          await report('undelivered', { errorCode: 30003, retryAt: new Date() });
          await ledger.requeueForRetry(key, 1, new Date());
          await ledger.claim({ ...task, attempt: 2 }, new Date(), lease());
          await ledger.report(key, { to: 'sent', at: new Date(), attempt: 2, messageSid: `SM${n}b` });
          return;
        }
        default: // rate limited (released), then found suppressed
          await ledger.release(key, 1, new Date());
          await ledger.claim(task, new Date(), lease());
          await ledger.skip(key, 1, new Date(), 'Suppressed (opt_out_keyword)');
      }
    });
  }

  it('many concurrent status changes of many recipients: the counts equal the ledger exactly; the broadcast settles', async () => {
    const n = SHARDS * 4;
    const { broadcast, keys, tasks } = await queued(n);
    await storm(keys, tasks);
    const totals = await untilCountsMatchLedger({ broadcasts, ledger, counters }, broadcast);
    expect(totals).toEqual({
      statuses: { read: n / 4, failed: n / 4, sent: n / 4, skipped: n / 4 },
      errors: { '63024': n / 4 },
      retriesPending: 0,
    });
    // Settled right after the counts of each batch are written.
    await expect
      .poll(async () => (await broadcasts.get(TENANT, broadcast.broadcastId))?.status, { timeout: 10_000 })
      .toBe('partial');
    expect(stream.failures).toEqual([]);
  });

  it('with a handler that fails the first delivery of every batch (after counting all or half of it), still exact', async () => {
    const n = SHARDS * 4;
    const { broadcast, keys, tasks } = await queued(n);
    const before = stream.source.stats.failedInvocations;
    failFirstDeliveries = true;
    try {
      await storm(keys, tasks);
      const totals = await untilCountsMatchLedger({ broadcasts, ledger, counters }, broadcast, 40_000);
      expect(totals.statuses).toEqual({ read: n / 4, failed: n / 4, sent: n / 4, skipped: n / 4 });
      expect(totals.errors).toEqual({ '63024': n / 4 });
    } finally {
      failFirstDeliveries = false;
    }
    expect(stream.source.stats.failedInvocations - before).toBeGreaterThan(0);
    expect(stream.failures).toEqual([]);
  });

  it('shuffled and repeated reports move recipients only forward; the counts add up to the total', async () => {
    const n = SHARDS * 2;
    const { broadcast, keys, tasks } = await queued(n);
    await Promise.all(
      keys.map(async (key, i) => {
        await ledger.claim(tasks[i] as SendTask, new Date(), lease());
        const steps = shuffle(['sent', 'delivered', 'read', 'sent', 'delivered', 'read'] as const);
        await Promise.all(steps.map((to) => ledger.report(key, { to, at: new Date(), attempt: 1 })));
      }),
    );
    await untilCountsMatchLedger({ broadcasts, ledger, counters }, broadcast);
    expect((await counters.totals(broadcast.broadcastId)).statuses).toMatchObject({ read: n, queued: 0 });
    await expect
      .poll(async () => (await broadcasts.get(TENANT, broadcast.broadcastId))?.status)
      .toBe('completed');
  });

  it('ends partial when 2 succeed and 1 fails, with the error counted by code and the activity in the metrics', async () => {
    const tenant = `tenant-partial-${Date.now()}`;
    const { broadcast, keys, tasks } = await queued(3, tenant);
    for (const task of tasks) await ledger.claim(task, new Date(), lease());
    const [a, b, c] = keys as [RecipientKey, RecipientKey, RecipientKey];
    await ledger.report(a, { to: 'sent', at: new Date(), attempt: 1 });
    await ledger.report(b, { to: 'delivered', at: new Date(), attempt: 1 });
    await untilCountsMatchLedger({ broadcasts, ledger, counters }, broadcast);
    expect((await broadcasts.get(tenant, broadcast.broadcastId))?.status).not.toBe('partial'); // one still sending
    await ledger.report(c, {
      to: 'failed',
      at: new Date(),
      attempt: 1,
      errorCode: 63024,
      errorMessage: 'Not on WhatsApp',
    });
    await expect
      .poll(async () => (await broadcasts.get(tenant, broadcast.broadcastId))?.status, { timeout: 10_000 })
      .toBe('partial');
    expect((await broadcasts.get(tenant, broadcast.broadcastId))?.completedAt).toBeDefined();
    const totals = await counters.totals(broadcast.broadcastId);
    expect(totals.statuses).toMatchObject({ sent: 1, delivered: 1, failed: 1, sending: 0, queued: 0 });
    expect(totals.errors).toEqual({ '63024': 1 });
    expect(await counters.recentActivity(tenant, new Date(), 5)).toEqual({ sent: 2, failed: 1 });
  });
  it('a settle whose write another settle beat shows the broadcast as it is now, not the status it read', async () => {
    const tenant = `tenant-race-${Date.now()}`;
    const { broadcast, keys, tasks } = await queued(1, tenant);
    await ledger.claim(tasks[0] as SendTask, new Date(), lease());
    await ledger.report(keys[0] as RecipientKey, {
      to: 'undelivered',
      at: new Date(),
      attempt: 1,
      errorCode: 30003,
      retryAt: new Date(Date.now() + 300_000),
    });
    await untilCountsMatchLedger({ broadcasts, ledger, counters }, broadcast);
    const stored = await broadcasts.get(tenant, broadcast.broadcastId);
    expect(['completed', 'partial', 'failed']).not.toContain(stored?.status); // a retry is pending
    // A route read it `completed` (before a late failure), and the aggregator reopened it first: the
    // route's own reopen is refused, and it must not show `completed` beside the pending retry.
    const shown = await settle(
      { broadcasts, counters },
      { ...(stored as NonNullable<typeof stored>), status: 'completed' },
      new Date(),
    );
    expect(shown.totals.retriesPending).toBe(1);
    expect(shown.broadcast.status).toBe(stored?.status);
  });

  it('a record older than the stream consumer takes goes to the on-failure destination, never to the aggregator', async () => {
    // A second consumer of the same stream, for which every record is too old (as after a long outage).
    let invoked = 0;
    const stale = await startCountsStream(
      db,
      { broadcasts, counters, contacts: new DynamoContactStore(db.doc, db.tableName) },
      {
        maxRecordAgeSeconds: 0,
        wrap: () => async () => {
          invoked += 1;
        },
      },
    );
    try {
      const { tasks } = await queued(2);
      for (const task of tasks) await ledger.claim(task, new Date(), lease());
      await waitFor(() => stale.failures.length > 0 || undefined, { message: 'no record was reported' });
      expect(stale.failures[0]).toMatchObject({ requestContext: { condition: 'RecordAgeExceeded' } });
      expect(invoked).toBe(0);
    } finally {
      await stale.stop();
    }
  });
});
