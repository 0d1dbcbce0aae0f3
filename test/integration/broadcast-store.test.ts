import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcastStore, SHARDS } from '../../functions/adapters/dynamo-broadcast-store.ts';
import type { Broadcast, ChunkEntry } from '../../functions/core/ports.ts';
import { expandAll as expandAllChunks, storeBroadcast } from '../support/broadcasts.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let store: DynamoBroadcastStore;
const _sequence = 0;

beforeAll(async () => {
  db = await startTestDynamoDb();
  store = new DynamoBroadcastStore(db.doc, db.tableName);
}, 60_000);
afterAll(async () => {
  await db?.stop();
});

function entries(n: number): ChunkEntry[] {
  return Array.from({ length: n }, (_, index) => ({
    index,
    phone: `+97250${String(1_000_000 + index)}`,
    contentVariables: { '1': `name ${index}` },
  }));
}

async function storedBroadcast(list: ChunkEntry[], chunkSize = 1000): Promise<Broadcast> {
  return (await storeBroadcast(store, { tenantId: 'tenant-a', entries: list, chunkSize })).broadcast;
}

const expandAll = (broadcast: Broadcast) => expandAllChunks(store, broadcast);

describe('DynamoBroadcastStore', () => {
  it('counts every recipient as pending until fan-out, then queued, and moves the broadcast to queued', async () => {
    const b = await storedBroadcast(entries(40), 15);
    expect((await store.getCounts(b)).counts.pending).toBe(40);
    await expandAll(b);
    const { counts } = await store.getCounts(b);
    expect(counts.pending).toBe(0);
    expect(counts.queued).toBe(40);
    expect((await store.getBroadcast(b.tenantId, b.broadcastId))?.status).toBe('queued');
  });

  it('expanding a chunk twice (a redelivered fan-out task) neither duplicates nor double counts', async () => {
    const b = await storedBroadcast(entries(30));
    const list = await store.readChunk(b.tenantId, b.broadcastId, 0);
    const first = await store.expandChunk(b, 0, list);
    const key = { tenantId: b.tenantId, broadcastId: b.broadcastId, index: 3 };
    await store.claim(key, 1, new Date(), 60);
    const again = await store.expandChunk(b, 0, list);
    expect(first).toHaveLength(30);
    // Everything still queued is handed back to be enqueued again; the claimed one is not.
    expect(again.map((r) => r.index)).not.toContain(3);
    expect(again).toHaveLength(29);
    const { counts } = await store.getCounts(b);
    expect(counts.queued + counts.sending).toBe(30);
  });

  it('admits one claim per attempt, however often the task is delivered', async () => {
    const b = await storedBroadcast(entries(1));
    await expandAll(b);
    const key = { tenantId: b.tenantId, broadcastId: b.broadcastId, index: 0 };
    const claims = await Promise.all([1, 2, 3, 4].map(() => store.claim(key, 1, new Date(), 60)));
    expect(claims.filter((c) => c.moved)).toHaveLength(1);
    expect((await store.claim(key, 2, new Date(), 60)).moved).toBe(false);
    expect((await store.getCounts(b)).counts.sending).toBe(1);
  });

  it('moves status only forward under shuffled and repeated callbacks, and the counts add up', async () => {
    const b = await storedBroadcast(entries(SHARDS * 2));
    await expandAll(b);
    const steps = ['sent', 'delivered', 'read'] as const;
    await Promise.all(
      Array.from({ length: SHARDS * 2 }, async (_, index) => {
        const key = { tenantId: b.tenantId, broadcastId: b.broadcastId, index };
        await store.claim(key, 1, new Date(), 60);
        const shuffled = [...steps, ...steps].sort(() => Math.random() - 0.5);
        await Promise.all(shuffled.map((to) => store.advance(key, to, { at: new Date() })));
      }),
    );
    const { counts } = await store.getCounts(b);
    expect(counts.read).toBe(SHARDS * 2);
    expect(Object.values(counts).reduce((a, c) => a + c, 0)).toBe(SHARDS * 2);
    const recipient = await store.getRecipient({
      tenantId: b.tenantId,
      broadcastId: b.broadcastId,
      index: 5,
    });
    expect(recipient?.status).toBe('read');
    expect(recipient?.sentAt).toBeDefined();
    expect(recipient?.deliveredAt).toBeDefined();
  }, 30_000); // hundreds of conditional writes: slow on a 2-core machine running other suites

  it('ends partial when 2 succeed and 1 fails, with the error counted by code', async () => {
    const b = await storedBroadcast(entries(3));
    await expandAll(b);
    const key = (index: number) => ({ tenantId: b.tenantId, broadcastId: b.broadcastId, index });
    for (const i of [0, 1, 2]) await store.claim(key(i), 1, new Date(), 60);
    await store.advance(key(0), 'sent', { at: new Date() });
    expect(await store.finalizeIfDone(b, new Date())).toBeUndefined();
    await store.advance(key(1), 'delivered', { at: new Date() });
    await store.advance(key(2), 'failed', {
      at: new Date(),
      errorCode: 63024,
      errorMessage: 'Not on WhatsApp',
    });
    expect(await store.finalizeIfDone(b, new Date())).toBe('partial');
    const stored = await store.getBroadcast(b.tenantId, b.broadcastId);
    expect(stored?.status).toBe('partial');
    expect(stored?.completedAt).toBeDefined();
    const { counts, errors } = await store.getCounts(b);
    expect(counts).toMatchObject({ sent: 1, delivered: 1, failed: 1, sending: 0 });
    expect(errors).toEqual({ '63024': 1 });
  });

  it('indexes SIDs and adopts one only for the attempt that sent it', async () => {
    const b = await storedBroadcast(entries(1));
    await expandAll(b);
    const key = { tenantId: b.tenantId, broadcastId: b.broadcastId, index: 0 };
    await store.claim(key, 1, new Date(), 60);
    await store.recordSid(key, 2, 'SMstale');
    expect((await store.getRecipient(key))?.messageSid).toBeUndefined();
    await store.recordSid(key, 1, 'SMgood');
    await store.recordSid(key, 1, 'SMsecond');
    expect((await store.getRecipient(key))?.messageSid).toBe('SMgood');
    expect(await store.findRecipientBySid('SMgood')).toEqual({ ...key, kind: 'template' });
  });

  it('pages recipients across shards without losing or repeating one', async () => {
    const b = await storedBroadcast(entries(45));
    await expandAll(b);
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listRecipients(b, { limit: 7, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((r) => r.index));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 45 }, (_, i) => i));
  });

  it('lists a tenant’s broadcasts newest first, and another tenant sees none of them', async () => {
    const b1 = await storedBroadcast(entries(1));
    const b2 = await storedBroadcast(entries(1));
    const page = await store.listBroadcasts('tenant-a', { limit: 2 });
    expect(page.items.map((b) => b.broadcastId)).toEqual([b2.broadcastId, b1.broadcastId].sort().reverse());
    expect((await store.listBroadcasts('tenant-b', { limit: 10 })).items).toEqual([]);
    expect(await store.getBroadcast('tenant-b', b1.broadcastId)).toBeUndefined();
  });

  it('gives no cursor on a last page that is exactly full, and refuses another tenant’s cursor', async () => {
    const tenantId = `tenant-pages-${Date.now()}`;
    for (let i = 0; i < 4; i++) await storeBroadcast(store, { tenantId, entries: entries(1) });
    const first = await store.listBroadcasts(tenantId, { limit: 2 });
    expect(first.items).toHaveLength(2);
    const last = await store.listBroadcasts(tenantId, { limit: 2, cursor: first.nextCursor as string });
    expect(last.items).toHaveLength(2);
    expect(last.nextCursor).toBeUndefined();
    expect((await store.listBroadcasts(tenantId, { limit: 4 })).nextCursor).toBeUndefined();

    await expect(
      store.listBroadcasts('tenant-a', { limit: 2, cursor: first.nextCursor as string }),
    ).rejects.toMatchObject({ name: 'InvalidCursor', code: 'VALIDATION_FAILED' });
  });

  it('refuses a recipients cursor of another broadcast, and a shard out of range, before any read', async () => {
    const one = await storedBroadcast(entries(20));
    const other = await storedBroadcast(entries(20));
    await expandAll(one);
    const page = await store.listRecipients(one, { limit: 3 });
    expect(page.nextCursor).toBeDefined();
    for (const cursor of [
      page.nextCursor as string,
      Buffer.from('{"shard":-5000}').toString('base64url'),
      Buffer.from(JSON.stringify({ k: 'r', o: other.broadcastId, shard: -5000 })).toString('base64url'),
    ])
      await expect(store.listRecipients(other, { limit: 3, cursor })).rejects.toMatchObject({
        name: 'InvalidCursor',
      });
  });

  it('keeps a scheduled broadcast’s stored list a week past its start, not its creation', async () => {
    const scheduledAt = new Date(Date.now() + 200 * 86_400_000);
    const { broadcast } = await storeBroadcast(store, {
      tenantId: 'tenant-a',
      entries: entries(3),
      scheduledAt,
    });
    const { Item } = await db.doc.send(
      new GetCommand({
        TableName: db.tableName,
        Key: { pk: `BROADCAST#${broadcast.broadcastId}`, sk: 'CHUNK#00000' },
      }),
    );
    const week = 7 * 86_400;
    expect(Number(Item?.expiresAt)).toBeGreaterThanOrEqual(Math.floor(scheduledAt.getTime() / 1000) + week);
  });
});
