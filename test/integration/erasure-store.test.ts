import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBroadcasts } from '../../functions/adapters/dynamo-broadcasts.ts';
import { DynamoErasures } from '../../functions/adapters/dynamo-erasures.ts';
import { DynamoSendLedger } from '../../functions/adapters/dynamo-send-ledger.ts';
import { numberedEntries, storeBroadcast } from '../support/broadcasts.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

/**
 * The erasure's writes on the send ledger (functions/adapters/dynamo-erasures.ts) on DynamoDB Local:
 * an erased person is never sent anything more, whatever state their recipient is in.
 */
const TENANT = 'tenant-erasure';
let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let broadcasts: DynamoBroadcasts;
let ledger: DynamoSendLedger;
let erasures: DynamoErasures;

beforeAll(async () => {
  db = await startTestDynamoDb();
  broadcasts = new DynamoBroadcasts(db.doc, db.tableName);
  ledger = new DynamoSendLedger(db.doc, db.tableName);
  erasures = new DynamoErasures(db.doc, db.tableName);
}, 60_000);
afterAll(async () => {
  await db?.stop();
});

describe('erasing a recipient', () => {
  it('writes a handed-over recipient not written yet as skipped, so its queued send task sends nothing', async () => {
    const { broadcast, tasks, keys } = await storeBroadcast(
      { broadcasts, ledger },
      { tenantId: TENANT, entries: numberedEntries(3), fanOut: true },
    );
    const task = tasks[1];
    if (!task) throw new Error('no task');
    const at = new Date();
    expect(await erasures.redactListEntries(TENANT, broadcast.broadcastId, task.phone, at)).toBe(1);
    expect(await ledger.claim(task, at, new Date(at.getTime() + 60_000))).toMatchObject({ claimed: false });
    expect(await ledger.get(keys[1] as never)).toMatchObject({
      status: 'skipped',
      skipReason: 'erased',
      phone: 'erased',
      erasedAt: at.toISOString(),
    });
    // The stored list names the person no more, and the others are untouched.
    const chunk = await broadcasts.readChunk(broadcast.broadcastId, 0);
    expect(chunk.entries.map((e) => e.phone)).toEqual([tasks[0]?.phone, 'erased', tasks[2]?.phone]);
    expect(chunk.entries[1]).toMatchObject({ skipped: true, skipReason: 'erased', contentVariables: {} });
    expect(await erasures.redactRecipients(TENANT, broadcast.broadcastId, task.phone, at)).toBe(0);
  });

  it('cancels a queued (waiting) recipient and keeps a failed one from any retry, both without their number', async () => {
    const { broadcast, tasks, keys } = await storeBroadcast(
      { broadcasts, ledger },
      { tenantId: TENANT, entries: numberedEntries(2, '52'), fanOut: true },
    );
    const [waiting, failed] = tasks;
    if (!waiting || !failed) throw new Error('no tasks');
    const at = new Date();
    expect(await ledger.wait(waiting, new Date(at.getTime() + 3_600_000), 'quiet_hours', at)).toBe(true);
    expect((await ledger.claim(failed, at, new Date(at.getTime() + 60_000))).claimed).toBe(true);
    expect(
      await ledger.report(keys[1] as never, { to: 'failed', at, attempt: 1, errorCode: 63016, retryAt: at }),
    ).toBe(true);
    const later = new Date(at.getTime() + 1000);
    // Another tenant's erasure of the same number changes nothing here.
    expect(await erasures.redactRecipients('someone-else', broadcast.broadcastId, failed.phone, later)).toBe(
      0,
    );
    expect(await ledger.get(keys[1] as never)).toMatchObject({ phone: failed.phone });
    expect(await erasures.redactRecipients(TENANT, broadcast.broadcastId, waiting.phone, later)).toBe(1);
    expect(await erasures.redactRecipients(TENANT, broadcast.broadcastId, failed.phone, later)).toBe(1);
    const [w, f] = [await ledger.get(keys[0] as never), await ledger.get(keys[1] as never)];
    expect(w).toMatchObject({ status: 'cancelled', phone: 'erased' });
    expect(w?.nextRetryAt).toBeUndefined();
    expect(f).toMatchObject({ status: 'failed', phone: 'erased', errorCode: 63016 });
    expect(f?.nextRetryAt).toBeUndefined();
    expect(await ledger.scheduledRetries(broadcast.broadcastId)).toEqual([]);
    expect(await ledger.requeueForRetry(keys[1] as never, 1, later)).toBeUndefined();
  });
});
