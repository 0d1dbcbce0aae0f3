import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoContacts } from '../../functions/adapters/dynamo-contacts.ts';
import { DynamoGroups } from '../../functions/adapters/dynamo-groups.ts';
import { DynamoImports } from '../../functions/adapters/dynamo-imports.ts';
import { retryTransactionConflicts } from '../../functions/adapters/dynamo-items.ts';
import { S3Files } from '../../functions/adapters/s3-files.ts';
import type { Contacts } from '../../functions/core/audience.ts';
import { explicitIdempotencyKey } from '../../functions/core/idempotency.ts';
import { newGroupId } from '../../functions/core/ids.ts';
import { ZERO_COUNTS } from '../../functions/core/import-tally.ts';
import {
  type ImportJob,
  type ImportOptions,
  importKey,
  newImportId,
  newUploadId,
  uploadKey,
} from '../../functions/core/imports.ts';
import { createImport } from '../../functions/use-cases/create-import.ts';
import { type ImportWorkerDeps, runImport } from '../../functions/use-cases/import-contacts.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

/**
 * The import worker against the real stores and emulators: DynamoDB Local for the import's record
 * and lease and for the contacts and groups (the contacts store's transactions), fauxqs for the file
 * in S3. What an import writes, in what batches, how it resumes, and how it fails.
 */

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let fauxqs: FauxqsServer;
let s3: S3Client;
let client: DynamoDBClient;
let store: DynamoImports;
let files: S3Files;
let contacts: DynamoContacts;
let groups: DynamoGroups;
const BUCKET = 'imports-test';

beforeAll(async () => {
  [db, fauxqs] = await Promise.all([startTestDynamoDb(), startFauxqs({ port: 0, logger: false })]);
  fauxqs.createBucket(BUCKET);
  s3 = new S3Client({
    endpoint: fauxqs.address,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  // As the handlers' client is (functions/commons/wiring.ts).
  client = new DynamoDBClient({
    endpoint: db.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  retryTransactionConflicts(client);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  store = new DynamoImports(doc, db.tableName);
  files = new S3Files(s3, BUCKET);
  contacts = new DynamoContacts(doc, db.tableName);
  groups = new DynamoGroups(doc, db.tableName, contacts);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  client?.destroy();
  await Promise.all([db?.stop(), fauxqs?.stop()]);
});

let tenantSeq = 0;

async function newTenant() {
  const tenantId = `t${tenantSeq++}`;
  const group = await groups.create({
    tenantId,
    groupId: newGroupId(),
    name: 'Farmers',
    createdAt: new Date().toISOString(),
  });
  return { tenantId, groupId: group.groupId };
}

async function newImport(
  tenantId: string,
  csv: string | Buffer,
  options: Partial<ImportOptions> = {},
): Promise<ImportJob> {
  const at = new Date().toISOString();
  const job: ImportJob = {
    tenantId,
    importId: newImportId(),
    status: 'running',
    phase: 'waiting',
    source: 'body',
    options: { tags: [], ...options },
    createdAt: at,
    updatedAt: at,
    counts: ZERO_COUNTS,
    errors: [],
    invocations: 0,
  };
  expect(await store.create(job, { now: new Date() })).toEqual({ created: true });
  await files.put(importKey(tenantId, job.importId), typeof csv === 'string' ? Buffer.from(csv) : csv);
  return job;
}

/** The real contacts store, watched: the size of every batch written, and an optional fault. */
function watchedContacts(fault?: (call: number, phones: string[]) => 'crash-after' | undefined) {
  const batches: number[] = [];
  const port: Pick<Contacts, 'upsertMany'> = {
    upsertMany: async (tenantId, batch, at) => {
      const result = await contacts.upsertMany(tenantId, batch, at);
      batches.push(batch.length);
      if (
        fault?.(
          batches.length,
          batch.map((c) => c.phone),
        ) === 'crash-after'
      )
        throw new Error('crash after the write');
      return result;
    },
  };
  return { port, batches };
}

function worker(over: Partial<ImportWorkerDeps> = {}) {
  const continuations: string[] = [];
  const deps: ImportWorkerDeps = {
    store,
    files,
    contacts,
    groups,
    queue: {
      continueImport: async (_t, id) => {
        continuations.push(id);
      },
    },
    now: () => new Date(),
    remainingMs: () => 900_000,
    log: () => {},
    ...over,
  };
  return { deps, continuations };
}

/** Runs invocations (the start event, then each continuation) until the import is done. */
async function runToEnd(job: ImportJob, deps: ImportWorkerDeps, limit = 100) {
  const outcomes: string[] = [];
  for (let i = 0; i < limit; i++) {
    const outcome = await runImport(deps, job.tenantId, job.importId);
    outcomes.push(outcome);
    if (outcome !== 'handed_over') break;
  }
  return { outcomes, job: await store.get(job.tenantId, job.importId) };
}

/** Every contact of the tenant, in phone order. */
async function allContacts(tenantId: string) {
  const all = [];
  let cursor: string | undefined;
  do {
    const page = await contacts.list(tenantId, {}, { limit: 500, ...(cursor ? { cursor } : {}) });
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

const phoneOf = (i: number) => `+9725${String(20_000_000 + i).padStart(8, '0')}`;

/** n rows; every 7th repeats the phone of 6 rows before, every 11th is not a phone. */
function csvOf(n: number): string {
  const rows = ['phone,name,city'];
  for (let i = 1; i <= n; i++) {
    if (i % 11 === 0) rows.push(`not-a-phone-${i},Row ${i},X`);
    else if (i % 7 === 0) rows.push(`${phoneOf(i - 6)},Again ${i},Y`);
    else rows.push(`${phoneOf(i)},Row ${i},"Town, ${i % 5}"`);
  }
  return `${rows.join('\r\n')}\r\n`;
}

/** What csvOf(n) holds: distinct phones, duplicates and invalid rows. */
function expectedOf(n: number) {
  const seen = new Set<string>();
  let duplicates = 0;
  let invalid = 0;
  for (let i = 1; i <= n; i++) {
    if (i % 11 === 0) invalid++;
    else {
      const phone = i % 7 === 0 ? phoneOf(i - 6) : phoneOf(i);
      if (seen.has(phone)) duplicates++;
      else seen.add(phone);
    }
  }
  return { created: seen.size, duplicates, invalid };
}

describe('the import worker', () => {
  it('imports a file in one pass: batches of 100, exact counts, the group, the errors', async () => {
    const { tenantId, groupId } = await newTenant();
    const job = await newImport(tenantId, csvOf(1000), { groupId, tags: ['expo'] });
    const watched = watchedContacts();
    const { outcomes, job: done } = await runToEnd(job, worker({ contacts: watched.port }).deps);
    expect(outcomes).toEqual(['completed']);
    const { created, duplicates, invalid } = expectedOf(1000);
    expect(done).toMatchObject({
      status: 'completed',
      totalRows: 1000,
      invocations: 1,
      counts: {
        processedRows: 1000,
        createdCount: created,
        updatedCount: 0,
        duplicateCount: duplicates,
        invalidCount: invalid,
      },
    });
    expect(done?.errors).toHaveLength(invalid);
    expect(done?.errors[0]).toEqual({ row: 11, line: 12, input: 'not-a-phone-11', reason: 'invalid_format' });
    expect(Math.max(...watched.batches)).toBe(100);
    expect((await groups.get(tenantId, groupId))?.memberCount).toBe(created);
    // The first occurrence wins: row 7 repeats row 1's phone.
    expect(await contacts.get(tenantId, phoneOf(1))).toMatchObject({
      name: 'Row 1',
      attributes: { city: 'Town, 1' },
      tags: ['expo'],
      groupIds: [groupId],
    });
  }, 60_000);

  it('the same file again updates the same contacts: no new members, nothing created', async () => {
    const { tenantId, groupId } = await newTenant();
    await runToEnd(await newImport(tenantId, csvOf(300), { groupId }), worker().deps);
    const again = await runToEnd(await newImport(tenantId, csvOf(300), { groupId }), worker().deps);
    const { created } = expectedOf(300);
    expect(again.job?.counts).toMatchObject({ createdCount: 0, updatedCount: created });
    expect((await groups.get(tenantId, groupId))?.memberCount).toBe(created);
  }, 60_000);

  it('hands over before the deadline and resumes at the checkpoint: the same result as one pass', async () => {
    const one = await newTenant();
    const oneRun = await runToEnd(await newImport(one.tenantId, csvOf(1000)), worker().deps);

    const split = await newTenant();
    // Time runs out after every batch (the clock is read at the claim, then after each checkpoint).
    let checks = 0;
    const { deps, continuations } = worker({ remainingMs: () => (++checks % 2 === 0 ? 1_000 : 900_000) });
    const many = await runToEnd(await newImport(split.tenantId, csvOf(1000)), deps);
    expect(many.outcomes.at(-1)).toBe('completed');
    expect(many.outcomes.filter((o) => o === 'handed_over').length).toBeGreaterThanOrEqual(7);
    expect(continuations).toHaveLength(many.outcomes.length - 1);
    expect(many.job?.invocations).toBe(many.outcomes.length);
    expect(many.job?.counts).toEqual(oneRun.job?.counts);
    expect(many.job?.errors).toEqual(oneRun.job?.errors);
    // Duplicates whose first occurrence was in an earlier invocation are still duplicates.
    expect(many.job?.counts.updatedCount).toBe(0);
    const view = (c: { phone: string; name?: string; attributes: object }) => [c.phone, c.name, c.attributes];
    expect((await allContacts(split.tenantId)).map(view)).toEqual(
      (await allContacts(one.tenantId)).map(view),
    );
  }, 120_000);

  it('a crash after a batch is written re-applies that batch only: contacts and group counts stay exact', async () => {
    const { tenantId, groupId } = await newTenant();
    const watched = watchedContacts((call) => (call === 3 ? 'crash-after' : undefined));
    const job = await newImport(tenantId, csvOf(1000), { groupId });
    // One batch at a time, so exactly one is in flight when it crashes.
    const { deps } = worker({ contacts: watched.port, writeConcurrency: 1 });
    await expect(runImport(deps, job.tenantId, job.importId)).rejects.toThrow('crash after the write');
    // The queue delivers the start event again (the lease was given up on the error).
    const { outcomes, job: done } = await runToEnd(job, deps);
    expect(outcomes).toEqual(['completed']);
    const stored = await allContacts(tenantId);
    expect((await groups.get(tenantId, groupId))?.memberCount).toBe(stored.length);
    expect(stored).toHaveLength(expectedOf(1000).created);
    const c = done?.counts;
    expect(c?.processedRows).toBe(1000);
    // The replayed batch's rows were created by the first attempt: the store counts them updated.
    expect(c?.updatedCount).toBe(watched.batches[2]);
    expect((c?.createdCount ?? 0) + (c?.updatedCount ?? 0)).toBe(stored.length);
    expect(done?.invocations).toBe(2);
  }, 60_000);

  it('with batches written four at once, a crash re-applies at most those in flight; the file order holds', async () => {
    const { tenantId, groupId } = await newTenant();
    // The batch holding row 601's phone fails after it is written (others around it may finish first).
    let crashed = false;
    const watched = watchedContacts((_call, phones) => {
      if (crashed || !phones.includes(phoneOf(601))) return undefined;
      crashed = true;
      return 'crash-after';
    });
    const job = await newImport(tenantId, csvOf(1500), { groupId });
    const { deps } = worker({ contacts: watched.port });
    await expect(runImport(deps, job.tenantId, job.importId)).rejects.toThrow('crash after the write');
    const afterCrash = await store.get(tenantId, job.importId);
    // The checkpoint never passes the failed batch, whatever finished after it.
    expect(afterCrash?.checkpoint?.row).toBeLessThan(601);
    expect(afterCrash?.counts.createdCount).toBeLessThan(expectedOf(600).created + 1);
    const { job: done } = await runToEnd(job, deps);
    const stored = await allContacts(tenantId);
    expect(stored).toHaveLength(expectedOf(1500).created);
    expect((await groups.get(tenantId, groupId))?.memberCount).toBe(stored.length);
    expect(done?.counts.processedRows).toBe(1500);
    expect(done?.counts.updatedCount).toBeLessThanOrEqual(4 * 100);
    expect((done?.counts.createdCount ?? 0) + (done?.counts.updatedCount ?? 0)).toBe(stored.length);
    expect(done?.errors).toEqual(
      (await runToEnd(await newImport((await newTenant()).tenantId, csvOf(1500)), worker().deps)).job?.errors,
    );
  }, 120_000);

  it('a second delivery of the start event while the import runs claims nothing', async () => {
    const { tenantId } = await newTenant();
    const job = await newImport(tenantId, csvOf(300));
    let second: Promise<string> | undefined;
    const { deps } = worker({
      contacts: {
        upsertMany: async (t, batch, at) => {
          second ??= runImport(worker().deps, t, job.importId);
          return contacts.upsertMany(t, batch, at);
        },
      },
    });
    expect(await runImport(deps, job.tenantId, job.importId)).toBe('completed');
    expect(await second).toBe('not_claimed');
    // And once it is completed, a late one finds nothing to do.
    expect(await runImport(deps, job.tenantId, job.importId)).toBe('not_claimed');
    expect((await store.get(tenantId, job.importId))?.invocations).toBe(1);
  }, 60_000);

  it('a file that is not CSV fails before any row is written, with its reason and line', async () => {
    const { tenantId } = await newTenant();
    const job = await newImport(
      tenantId,
      'phone,name\n+972501110001,Dana\n+972501110002,"Omer\n+972501110003,Noa\n',
    );
    const { outcomes, job: done } = await runToEnd(job, worker().deps);
    expect(outcomes).toEqual(['failed']);
    expect(done).toMatchObject({ status: 'failed', failure: { code: 'malformed_csv' } });
    expect(done?.failure?.message).toMatch(/never closed/);
    expect(await allContacts(tenantId)).toEqual([]);
  }, 60_000);

  it('a group deleted during the import fails it; the batches before stay whole, the counts exact', async () => {
    const { tenantId, groupId } = await newTenant();
    const job = await newImport(tenantId, csvOf(500), { groupId });
    const watched = watchedContacts();
    const { deps } = worker({
      writeConcurrency: 1,
      contacts: {
        upsertMany: async (t, batch, at) => {
          if (watched.batches.length === 2) await groups.delete(t, groupId);
          return watched.port.upsertMany(t, batch, at);
        },
      },
    });
    const { outcomes, job: done } = await runToEnd(job, deps);
    expect(outcomes).toEqual(['failed']);
    expect(done?.failure).toMatchObject({ code: 'group_deleted' });
    expect(done?.counts.createdCount).toBe(200);
    expect(await allContacts(tenantId)).toHaveLength(200);
  }, 60_000);

  it('a row that would take a contact over its limits is a row error; the rest of its batch is written', async () => {
    const { tenantId } = await newTenant();
    const many = Object.fromEntries(Array.from({ length: 99 }, (_, i) => [`a${i}`, i]));
    await contacts.upsert(tenantId, { phone: phoneOf(2), attributes: many }, new Date());
    const job = await newImport(
      tenantId,
      `phone,x1,x2\n${phoneOf(1)},1,2\n${phoneOf(2)},1,2\n${phoneOf(3)},1,2\n`,
    );
    const { job: done } = await runToEnd(job, worker().deps);
    expect(done?.counts).toMatchObject({ processedRows: 3, createdCount: 2, invalidCount: 1 });
    expect(done?.errors).toEqual([{ row: 2, line: 3, input: phoneOf(2), reason: 'contact_limit' }]);
    expect((await allContacts(tenantId)).map((c) => c.phone)).toEqual([phoneOf(1), phoneOf(2), phoneOf(3)]);
  }, 60_000);

  it('on its last delivery an unexpected error fails the import instead of leaving it running', async () => {
    const { tenantId } = await newTenant();
    const job = await newImport(tenantId, csvOf(50));
    const { deps } = worker({
      contacts: {
        upsertMany: async () => {
          throw new Error('DynamoDB is down');
        },
      },
    });
    await expect(runImport(deps, job.tenantId, job.importId)).rejects.toThrow('DynamoDB is down');
    expect(await runImport(deps, job.tenantId, job.importId, { lastAttempt: true })).toBe('failed');
    expect((await store.get(job.tenantId, job.importId))?.failure).toMatchObject({ code: 'internal' });
  }, 60_000);

  it('a file that changes between invocations fails the import (reads are pinned to its ETag)', async () => {
    const { tenantId } = await newTenant();
    const job = await newImport(tenantId, csvOf(400));
    let checks = 0;
    const { deps } = worker({ remainingMs: () => (++checks === 2 ? 1_000 : 900_000) });
    expect(await runImport(deps, job.tenantId, job.importId)).toBe('handed_over');
    await files.put(
      importKey(job.tenantId, job.importId),
      Buffer.from(csvOf(400).replace('Row 351', 'Changed')),
    );
    expect(await runImport(deps, job.tenantId, job.importId)).toBe('failed');
    expect((await store.get(job.tenantId, job.importId))?.failure).toMatchObject({ code: 'file_changed' });
  }, 60_000);

  it('a holder that died without a word is taken over once its lease has run out, not before', async () => {
    const { tenantId } = await newTenant();
    const job = await newImport(tenantId, csvOf(120));
    // An invocation claimed it and died (no release): its lease holds until its deadline + margin.
    const now = Date.now();
    expect(
      await store.claim(tenantId, job.importId, { token: 'dead', until: new Date(now + 400) }, new Date(now)),
    ).toBeDefined();
    expect(await runImport(worker().deps, tenantId, job.importId)).toBe('not_claimed');
    await new Promise((r) => setTimeout(r, 500));
    expect(await runImport(worker().deps, tenantId, job.importId)).toBe('completed');
    expect((await store.get(tenantId, job.importId))?.invocations).toBe(2);
  }, 60_000);

  it('create-import: a file that cannot be stored leaves nothing behind (record, key, upload mark)', async () => {
    const { tenantId } = await newTenant();
    const uploadId = newUploadId();
    await store.createUpload({
      tenantId,
      uploadId,
      createdAt: new Date().toISOString(),
      expiresAt: new Date().toISOString(),
    });
    await files.put(uploadKey(tenantId, uploadId), Buffer.from('phone\n+972501110001\n'));
    const failing = {
      head: (key: string) => files.head(key),
      readStart: (key: string, bytes: number) => files.readStart(key, bytes),
      put: async () => {},
      copy: async () => {
        throw new Error('S3 is down');
      },
      delete: async () => {},
    };
    const deps = { store, files: failing, groups, now: () => new Date(), log: () => {} };
    await expect(
      createImport(deps, tenantId, { kind: 'upload', uploadId }, { tags: [] }, 'key-1'),
    ).rejects.toThrow('S3 is down');
    expect((await store.list(tenantId, { limit: 10 })).items).toEqual([]);
    expect((await store.getUpload(tenantId, uploadId))?.importId).toBeUndefined();
    expect(
      await store.idempotency(tenantId, explicitIdempotencyKey(tenantId, 'key-1'), new Date()),
    ).toBeUndefined();
    // And once S3 answers again, the same request (same key) goes through.
    const ok = { ...failing, copy: (from: string, to: string) => files.copy(from, to) };
    const { job, idempotent } = await createImport(
      { ...deps, files: ok },
      tenantId,
      { kind: 'upload', uploadId },
      { tags: [] },
      'key-1',
    );
    expect(idempotent).toBe(false);
    expect((await store.getUpload(tenantId, uploadId))?.importId).toBe(job.importId);
  }, 60_000);

  it('a file with a header and no rows completes with nothing imported', async () => {
    const { tenantId } = await newTenant();
    const { outcomes, job: done } = await runToEnd(await newImport(tenantId, 'phone,name\n'), worker().deps);
    expect(outcomes).toEqual(['completed']);
    expect(done).toMatchObject({ status: 'completed', totalRows: 0, counts: ZERO_COUNTS });
  }, 60_000);
});
