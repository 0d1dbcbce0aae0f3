import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcasts } from '../../functions/adapters/dynamo-broadcasts.ts';
import { DynamoMessageIndex } from '../../functions/adapters/dynamo-message-index.ts';
import { DynamoSendLedger } from '../../functions/adapters/dynamo-send-ledger.ts';
import { recipientKey, SHARDS } from '../../functions/adapters/table-layout.ts';
import type { Broadcast, RecipientKey, SendTask } from '../../functions/core/ports.ts';
import { numberedEntries, storeBroadcast } from '../support/broadcasts.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

/**
 * The send ledger on DynamoDB Local (functions/adapters/dynamo-send-ledger.ts): one item per
 * recipient, every write one conditional update, so a duplicate, stale or reordered write changes
 * nothing. These are the guarantees the send consumer, the status webhook and the sweeper rest on.
 */
const TENANT = 'tenant-ledger';
let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let broadcasts: DynamoBroadcasts;
let ledger: DynamoSendLedger;
let messageIndex: DynamoMessageIndex;

beforeAll(async () => {
  db = await startTestDynamoDb();
  broadcasts = new DynamoBroadcasts(db.doc, db.tableName);
  ledger = new DynamoSendLedger(db.doc, db.tableName);
  messageIndex = new DynamoMessageIndex(db.doc, db.tableName);
}, 60_000);
afterAll(async () => {
  await db?.stop();
});

const entries = (n: number) => numberedEntries(n);

/** A fanned-out broadcast of `n` recipients: nothing written yet, a send task each. */
async function queued(n = 1): Promise<{ broadcast: Broadcast; keys: RecipientKey[]; tasks: SendTask[] }> {
  return storeBroadcast({ broadcasts, ledger }, { tenantId: TENANT, entries: entries(n), fanOut: true });
}

const minutesFromNow = (m: number) => new Date(Date.now() + m * 60_000);

async function claimed(n = 1) {
  const stored = await queued(n);
  for (const task of stored.tasks)
    expect((await ledger.claim(task, new Date(), minutesFromNow(1))).claimed).toBe(true);
  return stored;
}

const first = <T>(list: readonly T[]): T => {
  if (list[0] === undefined) throw new Error('empty');
  return list[0];
};

describe('DynamoSendLedger: claims', () => {
  it("the first claim creates the entry, with the task's phone, chunk and queued time", async () => {
    const { keys, tasks } = await queued();
    const [key, task] = [first(keys), first(tasks)];
    expect(await ledger.get(key)).toBeUndefined();
    const at = new Date();
    const lease = minutesFromNow(1);
    const claim = await ledger.claim(task, at, lease);
    expect(claim).toEqual({ claimed: true, recipient: expect.any(Object) });
    const stored = await ledger.get(key);
    expect(stored).toEqual(claim.claimed ? claim.recipient : undefined);
    expect(stored).toMatchObject({
      tenantId: TENANT,
      broadcastId: key.broadcastId,
      index: 0,
      phone: task.phone,
      chunk: 0,
      status: 'sending',
      attempts: 1,
      queuedAt: task.queuedAt,
      claimedAt: at.toISOString(),
      leaseUntil: lease.toISOString(),
    });
    // The template's values stay on the task and the stored chunk, off the ledger.
    expect(JSON.stringify(stored)).not.toContain('name 0');
  });

  it('a duplicate claim is refused and answers with the entry as it is', async () => {
    const { keys, tasks } = await queued();
    const at = new Date(Date.now() - 5000);
    await ledger.claim(first(tasks), at, minutesFromNow(1));
    const again = await ledger.claim(first(tasks), new Date(), minutesFromNow(2));
    expect(again.claimed).toBe(false);
    expect(again.claimed ? undefined : again.current).toEqual(await ledger.get(first(keys)));
    expect((await ledger.get(first(keys)))?.claimedAt).toBe(at.toISOString());
  });

  it('admits one claim per attempt, however often the task is delivered at once', async () => {
    const { keys, tasks } = await queued();
    const claims = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(() => ledger.claim(first(tasks), new Date(), minutesFromNow(1))),
    );
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    expect((await ledger.claim({ ...first(tasks), attempt: 2 }, new Date(), minutesFromNow(1))).claimed).toBe(
      false,
    );
    expect(await ledger.get(first(keys))).toMatchObject({ status: 'sending', attempts: 1 });
  });

  it('a released claim (back to queued) is claimed again for the same attempt, and only for it', async () => {
    const { keys, tasks } = await claimed();
    const [key, task] = [first(keys), first(tasks)];
    expect(await ledger.release(key, 2, new Date())).toBe(false); // another attempt's release
    expect(await ledger.release(key, 1, new Date())).toBe(true);
    const released = await ledger.get(key);
    expect(released).toMatchObject({ status: 'queued', attempts: 1 });
    expect(released?.claimedAt).toBeUndefined();
    expect(released?.leaseUntil).toBeUndefined();
    expect(await ledger.release(key, 1, new Date())).toBe(false); // not sending any more
    expect((await ledger.claim({ ...task, attempt: 2 }, new Date(), minutesFromNow(1))).claimed).toBe(false);
    expect((await ledger.claim(task, new Date(), minutesFromNow(1))).claimed).toBe(true);
  });

  it('takeOver moves a claim only from the claimedAt it was read with, and never once a SID is known', async () => {
    const { keys } = await claimed();
    const key = first(keys);
    const read = await ledger.get(key);
    if (!read) throw new Error('not claimed');
    expect(
      await ledger.takeOver(
        { ...read, claimedAt: '2020-01-01T00:00:00.000Z' },
        new Date(),
        minutesFromNow(1),
      ),
    ).toBe(false);
    const takenAt = new Date(Date.now() + 1000);
    expect(await ledger.takeOver(read, takenAt, minutesFromNow(2))).toBe(true);
    expect((await ledger.get(key))?.claimedAt).toBe(takenAt.toISOString());
    // A second finder of the same abandoned claim (it read the old claimedAt) loses.
    expect(await ledger.takeOver(read, new Date(), minutesFromNow(2))).toBe(false);

    // A sending entry that carries a SID (its message is at the provider): neither taken over nor released.
    const current = await ledger.get(key);
    if (!current) throw new Error('gone');
    await db.doc.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: recipientKey(key.broadcastId, key.index),
        UpdateExpression: 'SET messageSid = :sid',
        ExpressionAttributeValues: { ':sid': 'SMknown' },
      }),
    );
    expect(await ledger.takeOver(current, new Date(), minutesFromNow(3))).toBe(false);
    expect(await ledger.release(key, 1, new Date())).toBe(false);
  });

  it('markSkipped writes a never-claimed recipient as skipped once; it is never claimed after', async () => {
    const { keys, tasks } = await queued();
    expect(await ledger.markSkipped(first(tasks), new Date(), 'suppressed')).toBe(true);
    expect(await ledger.markSkipped(first(tasks), new Date(), 'suppressed')).toBe(false);
    expect(await ledger.get(first(keys))).toMatchObject({ status: 'skipped', errorMessage: 'suppressed' });
    expect((await ledger.claim(first(tasks), new Date(), minutesFromNow(1))).claimed).toBe(false);
  });

  it('skip moves a claim to skipped before any provider call, only for its attempt; cancel only a queued entry', async () => {
    const { keys } = await claimed(2);
    const [a, b] = keys as [RecipientKey, RecipientKey];
    expect(await ledger.skip(a, 2, new Date(), 'why')).toBe(false);
    expect(await ledger.skip(a, 1, new Date(), 'Suppressed (admin)')).toBe(true);
    expect(await ledger.get(a)).toMatchObject({ status: 'skipped', errorMessage: 'Suppressed (admin)' });
    // Once the provider has it, it is not skipped (nor cancelled): it was sent.
    await ledger.report(b, { to: 'sent', at: new Date(), attempt: 1, messageSid: 'SMb' });
    expect(await ledger.skip(b, 1, new Date(), 'too late')).toBe(false);
    expect(await ledger.cancel(b, 1, new Date())).toBe(false);
    // A released entry is cancelled.
    const { keys: more } = await claimed();
    await ledger.release(first(more), 1, new Date());
    expect(await ledger.cancel(first(more), 2, new Date())).toBe(false);
    expect(await ledger.cancel(first(more), 1, new Date())).toBe(true);
    expect((await ledger.get(first(more)))?.status).toBe('cancelled');
  });
});

describe('DynamoSendLedger: reports', () => {
  it('move only forward, stamping what a lost report implies', async () => {
    const { keys } = await claimed();
    const key = first(keys);
    const report = (to: 'sent' | 'delivered' | 'read' | 'failed') =>
      ledger.report(key, { to, at: new Date(), attempt: 1, messageSid: 'SM1' });
    expect(await report('delivered')).toBe(true);
    const delivered = await ledger.get(key);
    expect(delivered).toMatchObject({ status: 'delivered', messageSid: 'SM1' });
    expect(delivered?.sentAt).toBe(delivered?.deliveredAt); // the lost `sent`, implied
    expect(delivered?.leaseUntil).toBeUndefined();
    expect(await report('sent')).toBe(false);
    expect(await report('delivered')).toBe(false);
    expect(await report('failed')).toBe(false); // a failure after a delivery receipt is not believed
    expect(await report('read')).toBe(true);
    expect(await report('delivered')).toBe(false);
    expect(await ledger.get(key)).toMatchObject({ status: 'read', sentAt: delivered?.sentAt });
  });

  it('move only the attempt they speak for, and only with an absent or equal SID', async () => {
    const { keys } = await claimed();
    const key = first(keys);
    expect(await ledger.report(key, { to: 'sent', at: new Date(), attempt: 2, messageSid: 'SM1' })).toBe(
      false,
    );
    expect((await ledger.get(key))?.messageSid).toBeUndefined();
    // The first report names the SID: adopted.
    expect(await ledger.report(key, { to: 'sent', at: new Date(), attempt: 1, messageSid: 'SM1' })).toBe(
      true,
    );
    // Another message's report for the same attempt: not this recipient's.
    expect(await ledger.report(key, { to: 'read', at: new Date(), attempt: 1, messageSid: 'SM2' })).toBe(
      false,
    );
    expect(await ledger.report(key, { to: 'read', at: new Date(), attempt: 1, messageSid: 'SM1' })).toBe(
      true,
    );
    expect(await ledger.get(key)).toMatchObject({ status: 'read', messageSid: 'SM1' });
    // Another tenant's report for the same keys moves nothing.
    expect(
      await ledger.report({ ...key, tenantId: 'intruder' }, { to: 'read', at: new Date(), attempt: 1 }),
    ).toBe(false);
  });

  it("a report that requires the recorded SID: attempt 1's `delivered` does not move attempt 2, undelivered with its own SID", async () => {
    const { keys, tasks } = await claimed();
    const [key, task] = [first(keys), first(tasks)];
    await ledger.report(key, {
      to: 'undelivered',
      at: new Date(),
      attempt: 1,
      messageSid: 'SMone',
      errorCode: 30003,
    });
    expect(await ledger.requeueForRetry(key, 1, new Date())).toMatchObject({ attempts: 2, status: 'queued' });
    await ledger.claim({ ...task, attempt: 2 }, new Date(), minutesFromNow(1));
    await ledger.report(key, {
      to: 'undelivered',
      at: new Date(),
      attempt: 2,
      messageSid: 'SMtwo',
      errorCode: 30003,
    });

    // As a callback without the query sees it: the recipient's current attempt, and the SID it carries.
    const fromBareUrl = { at: new Date(), attempt: 2, requireRecordedSid: true } as const;
    expect(await ledger.report(key, { ...fromBareUrl, to: 'delivered', messageSid: 'SMone' })).toBe(false);
    expect(await ledger.get(key)).toMatchObject({ status: 'undelivered', attempts: 2, messageSid: 'SMtwo' });
    expect(await ledger.report(key, { ...fromBareUrl, to: 'delivered', messageSid: 'SMtwo' })).toBe(true);
    expect(await ledger.get(key)).toMatchObject({ status: 'delivered', attempts: 2, messageSid: 'SMtwo' });

    // And it never adopts a SID: a recipient with none is not moved by a bare-URL report.
    const { keys: other } = await claimed();
    expect(
      await ledger.report(first(other), { ...fromBareUrl, attempt: 1, to: 'sent', messageSid: 'SMx' }),
    ).toBe(false);
    expect((await ledger.get(first(other)))?.status).toBe('sending');
  });
});

describe('DynamoSendLedger: retries', () => {
  it('a failure with a retry is listed when due, re-queued once as the next attempt (clean), or dropped', async () => {
    const { broadcast, keys } = await claimed(3);
    const [a, b, c] = keys as [RecipientKey, RecipientKey, RecipientKey];
    const soon = minutesFromNow(1);
    const later = minutesFromNow(10);
    await ledger.report(b, {
      to: 'undelivered',
      at: new Date(),
      attempt: 1,
      messageSid: 'SMb',
      errorCode: 30003,
      retryAt: later,
    });
    await ledger.report(a, { to: 'failed', at: new Date(), attempt: 1, errorCode: 30008, retryAt: soon });
    await ledger.report(c, { to: 'failed', at: new Date(), attempt: 1, errorCode: 63024 });

    expect((await ledger.scheduledRetries(broadcast.broadcastId)).map((r) => r.index)).toEqual([0, 1]);
    expect(await ledger.scheduledRetries(broadcast.broadcastId, minutesFromNow(5))).toEqual([
      { ...a, attempt: 1, nextRetryAt: soon.toISOString() },
    ]);

    const again = await ledger.requeueForRetry(a, 1, new Date());
    expect(again).toMatchObject({ status: 'queued', attempts: 2 });
    for (const field of ['errorCode', 'errorMessage', 'messageSid', 'nextRetryAt', 'claimedAt', 'sentAt'])
      expect(again).not.toHaveProperty(field);
    expect(await ledger.requeueForRetry(a, 1, new Date())).toBeUndefined(); // done already
    expect(await ledger.requeueForRetry({ ...c, tenantId: 'intruder' }, 1, new Date())).toBeUndefined();

    await ledger.dropRetry(b, 1);
    expect(await ledger.scheduledRetries(broadcast.broadcastId)).toEqual([]);
    expect(await ledger.get(b)).toMatchObject({ status: 'undelivered', errorCode: 30003 });
  });
});

describe('DynamoSendLedger: reading a broadcast’s recipients', () => {
  it('pages recipients across shards without losing or repeating one, and filters by status', async () => {
    const { broadcast, keys } = await claimed(45);
    for (const key of keys.slice(0, 5))
      await ledger.report(key, { to: 'sent', at: new Date(), attempt: 1, messageSid: `SM${key.index}` });
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await ledger.page(broadcast, { limit: 7, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.items.map((r) => r.index));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 45 }, (_, i) => i));
    expect(keys.length).toBeGreaterThan(SHARDS * 2);

    const sent = await ledger.page(broadcast, { limit: 50, statuses: ['sent'] });
    expect(sent.items.map((r) => r.index).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4]);
    expect(sent.nextCursor).toBeUndefined();
    const either = await ledger.page(broadcast, { limit: 50, statuses: ['sent', 'sending'] });
    expect(either.items).toHaveLength(45);
    expect(await ledger.page(broadcast, { limit: 50, statuses: [] })).toEqual({ items: [] });
    expect((await ledger.inStatuses(broadcast, ['sending'])).length).toBe(40);
  });

  it('refuses a recipients cursor of another broadcast, and a shard out of range, before any read', async () => {
    const { broadcast: one } = await claimed(20);
    const { broadcast: other } = await claimed(20);
    const page = await ledger.page(one, { limit: 3 });
    expect(page.nextCursor).toBeDefined();
    for (const cursor of [
      page.nextCursor as string,
      Buffer.from('{"shard":-5000}').toString('base64url'),
      Buffer.from(JSON.stringify({ k: 'r', o: other.broadcastId, shard: -5000 })).toString('base64url'),
    ])
      await expect(ledger.page(other, { limit: 3, cursor })).rejects.toMatchObject({ name: 'InvalidCursor' });
  });

  it('another tenant reads nothing of it', async () => {
    const { keys } = await claimed();
    expect(await ledger.get({ ...first(keys), tenantId: 'intruder' })).toBeUndefined();
  });
});

describe('DynamoMessageIndex', () => {
  it('finds the recipient (and which of its messages) a SID belongs to', async () => {
    const key = { tenantId: TENANT, broadcastId: 'brd_INDEX', index: 3 };
    await messageIndex.index('SMtemplate', { ...key, kind: 'template' });
    await messageIndex.index('SMfollowup', { ...key, kind: 'followUp' });
    expect(await messageIndex.find('SMtemplate')).toEqual({ ...key, kind: 'template' });
    expect(await messageIndex.find('SMfollowup')).toEqual({ ...key, kind: 'followUp' });
    expect(await messageIndex.find('SMunknown')).toBeUndefined();
  });
});
