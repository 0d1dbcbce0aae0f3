import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcasts } from '../../functions/adapters/dynamo-broadcasts.ts';
import { DynamoCounters } from '../../functions/adapters/dynamo-counters.ts';
import { DynamoSendLedger } from '../../functions/adapters/dynamo-send-ledger.ts';
import type { Broadcast, ChunkEntry, SendTask } from '../../functions/core/ports.ts';
import { createFanOut } from '../../functions/use-cases/fan-out-chunk.ts';
import { stateOf } from '../../functions/use-cases/settle-broadcast.ts';
import { collectingQueue, numberedEntries, silentLogger, storeBroadcast } from '../support/broadcasts.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

/**
 * Broadcasts and their stored lists on DynamoDB Local (functions/adapters/dynamo-broadcasts.ts), with
 * the fan-out use case that hands each stored chunk to the send queue exactly once in the counts.
 */
const TENANT = 'tenant-a';
let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let broadcasts: DynamoBroadcasts;
let ledger: DynamoSendLedger;
let counters: DynamoCounters;

beforeAll(async () => {
  db = await startTestDynamoDb();
  broadcasts = new DynamoBroadcasts(db.doc, db.tableName);
  ledger = new DynamoSendLedger(db.doc, db.tableName);
  counters = new DynamoCounters(db.doc, db.tableName);
}, 60_000);
afterAll(async () => {
  await db?.stop();
});

const entries = (n: number) => numberedEntries(n);

const stored = async (list: ChunkEntry[], options: { chunkSize?: number; scheduledAt?: Date } = {}) =>
  (await storeBroadcast({ broadcasts, ledger }, { tenantId: TENANT, entries: list, ...options })).broadcast;

/** The real fan-out use case over a queue that keeps what it is given. */
function fanOut(now?: () => Date) {
  const sendQueue = collectingQueue<SendTask>();
  const run = createFanOut({
    broadcasts,
    ledger,
    sendQueue,
    history: { record: async () => {} },
    logger: silentLogger,
    ...(now ? { now } : {}),
  });
  return {
    sent: sendQueue.tasks,
    chunk: (b: Broadcast, chunk: number) => run({ tenantId: b.tenantId, broadcastId: b.broadcastId, chunk }),
  };
}

const countsOf = async (b: Broadcast) => {
  const now = (await broadcasts.get(b.tenantId, b.broadcastId)) ?? b;
  return stateOf({ broadcasts, counters }, now);
};

describe('DynamoBroadcasts and the fan-out', () => {
  it('counts every recipient pending until its chunk is fanned out, then queued; the last chunk makes the broadcast queued', async () => {
    const b = await stored(entries(40), { chunkSize: 15 });
    expect(b.chunkCount).toBe(3);
    expect((await countsOf(b)).counts).toMatchObject({ pending: 40, queued: 0 });

    const run = fanOut();
    await run.chunk(b, 0);
    expect((await countsOf(b)).counts).toMatchObject({ pending: 25, queued: 15 });
    expect((await broadcasts.get(TENANT, b.broadcastId))?.status).toBe('accepted');
    expect(await broadcasts.unfinishedChunks(b)).toEqual([1, 2]);
    await run.chunk(b, 2);
    await run.chunk(b, 1);
    const { counts, totals } = await countsOf(b);
    expect(counts).toMatchObject({ pending: 0, queued: 40 });
    expect(totals.chunksEnqueued).toBe(3);
    expect((await broadcasts.get(TENANT, b.broadcastId))?.status).toBe('queued');
    expect(await broadcasts.unfinishedChunks(b)).toEqual([]);

    // Each task carries what to send: the phone, the rendered variables, where it came from.
    expect(run.sent).toHaveLength(40);
    expect(run.sent.find((t) => t.index === 17)).toMatchObject({
      tenantId: TENANT,
      broadcastId: b.broadcastId,
      index: 17,
      attempt: 1,
      phone: '+972501000017',
      variables: { '1': 'name 17' },
      chunk: 1,
      queuedAt: expect.any(String),
    });
    // Nothing is written per recipient by the fan-out: the first claim writes each.
    expect(await ledger.inStatuses(b, ['queued'])).toEqual([]);
  });

  it('a fan-out task delivered twice neither counts twice nor enqueues twice; one that died after counting enqueues without counting again', async () => {
    const b = await stored(entries(30));
    const run = fanOut();
    await run.chunk(b, 0);
    await run.chunk(b, 0);
    expect(run.sent).toHaveLength(30);
    expect((await countsOf(b)).counts).toMatchObject({ pending: 0, queued: 30 });

    // A fan-out that counted its chunk and died before its tasks were all enqueued.
    const crashed = await stored(entries(30));
    expect(await broadcasts.countChunk(crashed, 0, 30)).toBe(true);
    expect(await broadcasts.countChunk(crashed, 0, 30)).toBe(false);
    const again = fanOut();
    await again.chunk(crashed, 0);
    expect(again.sent).toHaveLength(30);
    const { counts, totals } = await countsOf(crashed);
    expect(counts).toMatchObject({ pending: 0, queued: 30 });
    expect(totals.chunksEnqueued).toBe(1);
  });

  it('writes recipients skipped at create (suppressed, or with a reason) as skipped, with no send task; a cancelled broadcast enqueues nothing', async () => {
    const list = entries(3).map((e) => (e.index === 1 ? { ...e, skipped: true } : e));
    const b = await stored(list);
    const run = fanOut();
    await run.chunk(b, 0);
    expect(run.sent.map((t) => t.index)).toEqual([0, 2]);
    expect(await ledger.get({ tenantId: TENANT, broadcastId: b.broadcastId, index: 1 })).toMatchObject({
      status: 'skipped',
    });

    // The chunk keeps why an entry is skipped; the fan-out writes it, and the reason's message.
    const why = entries(3).map((e) =>
      e.index === 0
        ? { ...e, skipped: true, skipReason: 'marketing_not_delivered_us' as const }
        : e.index === 2
          ? { ...e, skipped: true }
          : e,
    );
    const marketing = await stored(why);
    expect((await broadcasts.readChunk(marketing.broadcastId, 0)).entries).toEqual(why);
    const again = fanOut();
    await again.chunk(marketing, 0);
    expect(again.sent.map((t) => t.index)).toEqual([1]);
    const recipient = (index: number) =>
      ledger.get({ tenantId: TENANT, broadcastId: marketing.broadcastId, index });
    expect(await recipient(0)).toMatchObject({
      status: 'skipped',
      skipReason: 'marketing_not_delivered_us',
      errorMessage: expect.stringContaining('63049'),
    });
    expect(await recipient(2)).toMatchObject({
      status: 'skipped',
      errorMessage: 'On the suppression list when the broadcast was created',
    });
    expect((await recipient(2))?.skipReason).toBeUndefined();

    const cancelled = await stored(entries(4));
    expect(await broadcasts.cancel(TENANT, cancelled.broadcastId, new Date())).toBe(true);
    const none = fanOut();
    await none.chunk(cancelled, 0);
    expect(none.sent).toEqual([]);
    // Counted (so the counts add up), and shown as what they are.
    expect((await countsOf(cancelled)).counts).toMatchObject({ cancelled: 4, pending: 0, queued: 0 });
  });

  it('never starts a scheduled broadcast early (its schedule starts it); once due, a chunk starts it and fans out', async () => {
    const inAnHour = new Date(Date.now() + 3_600_000);
    const b = await stored(entries(2), { scheduledAt: inAnHour });
    const early = fanOut();
    await early.chunk(b, 0);
    expect(early.sent).toEqual([]);
    expect((await broadcasts.get(TENANT, b.broadcastId))?.status).toBe('scheduled');

    const due = fanOut(() => new Date(inAnHour.getTime() + 1000));
    await due.chunk(b, 0);
    expect(due.sent).toHaveLength(2);
    expect((await broadcasts.get(TENANT, b.broadcastId))?.status).toBe('queued');
  });

  it('keeps a scheduled broadcast’s stored list 30 days past its start, not its creation', async () => {
    const scheduledAt = new Date(Date.now() + 200 * 86_400_000);
    const b = await stored(entries(3), { scheduledAt });
    const { Item } = await db.doc.send(
      new GetCommand({
        TableName: db.tableName,
        Key: { pk: `BROADCAST#${b.broadcastId}`, sk: 'CHUNK#00000' },
      }),
    );
    const month = 30 * 86_400;
    expect(Number(Item?.expiresAt)).toBeGreaterThanOrEqual(Math.floor(scheduledAt.getTime() / 1000) + month);
  });

  it('moves a broadcast through its life: running once, final out of the active index, reopened, cancelled only before the end', async () => {
    const b = await stored(entries(1));
    expect((await broadcasts.active(TENANT)).map((x) => x.broadcastId)).toContain(b.broadcastId);
    const at = new Date();
    await broadcasts.markRunning(TENANT, b.broadcastId, at);
    await broadcasts.markRunning(TENANT, b.broadcastId, new Date(at.getTime() + 5000));
    expect(await broadcasts.get(TENANT, b.broadcastId)).toMatchObject({
      status: 'running',
      startedAt: at.toISOString(),
    });
    expect(await broadcasts.finish(b, 'completed', new Date())).toBe(true);
    expect((await broadcasts.active(TENANT)).map((x) => x.broadcastId)).not.toContain(b.broadcastId);
    expect(await broadcasts.cancel(TENANT, b.broadcastId, new Date())).toBe(false);
    // A late failure: completed → partial is allowed, still final.
    expect(await broadcasts.finish(b, 'partial', new Date())).toBe(true);
    expect(await broadcasts.reopen(b)).toBe(true);
    const reopened = await broadcasts.get(TENANT, b.broadcastId);
    expect(reopened?.status).toBe('running');
    expect(reopened?.completedAt).toBeUndefined();
    expect((await broadcasts.active(TENANT)).map((x) => x.broadcastId)).toContain(b.broadcastId);

    expect(await broadcasts.cancel(TENANT, b.broadcastId, new Date())).toBe(true);
    expect(await broadcasts.finish(b, 'completed', new Date())).toBe(false); // nothing leaves cancelled
    expect((await broadcasts.active(TENANT)).map((x) => x.broadcastId)).toContain(b.broadcastId);
    await broadcasts.settleCancelled(b);
    expect((await broadcasts.active(TENANT)).map((x) => x.broadcastId)).not.toContain(b.broadcastId);
    expect((await broadcasts.get(TENANT, b.broadcastId))?.status).toBe('cancelled');
  });

  it('keeps a paused broadcast paused when its counts look final, so a late failure’s retry cannot reopen it to running', async () => {
    // Every recipient `sent` looks final, but a late `undelivered` schedules a retry, which reopens a
    // finished broadcast to `running`: a paused one that ended would have lost its pause.
    const b = await stored(entries(1));
    await broadcasts.markRunning(TENANT, b.broadcastId, new Date());
    const paused = await broadcasts.pause(TENANT, b.broadcastId, new Date(), 'paused by an admin');
    expect(paused?.status).toBe('paused');
    expect(await broadcasts.finish(b, 'completed', new Date())).toBe(false);
    expect(await broadcasts.reopen(b)).toBe(false);
    expect((await broadcasts.get(TENANT, b.broadcastId))?.status).toBe('paused');
    expect((await broadcasts.active(TENANT)).map((x) => x.broadcastId)).toContain(b.broadcastId);
  });

  it('remembers since when a broadcast’s counts stood still', async () => {
    const b = await stored(entries(1));
    const t0 = new Date(Date.now() - 60_000);
    expect(await broadcasts.noteSweep(b, 'sig-a', t0)).toEqual(t0);
    expect(await broadcasts.noteSweep(b, 'sig-a', new Date())).toEqual(t0);
    const t2 = new Date();
    expect(await broadcasts.noteSweep(b, 'sig-b', t2)).toEqual(t2);
  });

  it('lists a tenant’s broadcasts newest first, and another tenant sees none of them', async () => {
    const b1 = await stored(entries(1));
    const b2 = await stored(entries(1));
    const page = await broadcasts.page(TENANT, { limit: 2 });
    expect(page.items.map((b) => b.broadcastId)).toEqual([b2.broadcastId, b1.broadcastId].sort().reverse());
    expect((await broadcasts.page('tenant-b', { limit: 10 })).items).toEqual([]);
    expect(await broadcasts.get('tenant-b', b1.broadcastId)).toBeUndefined();
  });

  it('gives no cursor on a last page that is exactly full, and refuses another tenant’s cursor', async () => {
    const tenantId = `tenant-pages-${Date.now()}`;
    for (let i = 0; i < 4; i++)
      await storeBroadcast({ broadcasts, ledger }, { tenantId, entries: entries(1) });
    const first = await broadcasts.page(tenantId, { limit: 2 });
    expect(first.items).toHaveLength(2);
    const last = await broadcasts.page(tenantId, { limit: 2, cursor: first.nextCursor as string });
    expect(last.items).toHaveLength(2);
    expect(last.nextCursor).toBeUndefined();
    expect((await broadcasts.page(tenantId, { limit: 4 })).nextCursor).toBeUndefined();

    await expect(
      broadcasts.page(TENANT, { limit: 2, cursor: first.nextCursor as string }),
    ).rejects.toMatchObject({ name: 'InvalidCursor', code: 'VALIDATION_FAILED' });
  });
});
