import { S3Client } from '@aws-sdk/client-s3';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoImports } from '../../functions/adapters/dynamo-imports.ts';
import { S3Files } from '../../functions/adapters/s3-files.ts';
import type { Contacts, ContactUpsert, Groups } from '../../functions/core/audience.ts';
import { ZERO_COUNTS } from '../../functions/core/import-tally.ts';
import { type ImportJob, type ImportOptions, importKey, newImportId } from '../../functions/core/imports.ts';
import { type ImportWorkerDeps, runImport } from '../../functions/use-cases/import-contacts.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { startTestDynamoDb } from '../support/dynamodb.ts';

/**
 * The import worker against the real emulators (DynamoDB Local for the import's record and lease,
 * fauxqs for the file in S3), with the contacts store as an in-memory double that keeps the port's
 * promises (idempotent upserts, exact group counts): what an import writes, in what batches, how it
 * resumes, and how it fails.
 */

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
let fauxqs: FauxqsServer;
let s3: S3Client;
let store: DynamoImports;
let files: S3Files;
const BUCKET = 'imports-test';
const GROUP = 'grp_01JD7X1B2C3D4E5F6G7H8J9K0M';

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
  store = new DynamoImports(db.doc, db.tableName);
  files = new S3Files(s3, BUCKET);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await Promise.all([db?.stop(), fauxqs?.stop()]);
});

/** The contacts store's promises, in memory: one contact per phone, exact group member counts. */
class MemoryAudience {
  readonly contacts = new Map<string, ContactUpsert & { groupIds: string[] }>();
  readonly members = new Map<string, Set<string>>();
  readonly batches: number[] = [];
  groupExists = true;
  /** Throw after writing the n-th batch (1-based): a crash between the write and the checkpoint. */
  crashAfterBatch?: number;

  readonly port: Pick<Contacts, 'upsertMany'> & Pick<Groups, 'get'> = {
    upsertMany: async (_tenantId, batch) => {
      if (batch.length > 100 || new Set(batch.map((c) => c.phone)).size !== batch.length)
        throw new Error('upsertMany takes up to 100 distinct phones');
      let created = 0;
      for (const c of batch) {
        const before = this.contacts.get(c.phone);
        if (!before) created++;
        const groupIds = [...new Set([...(before?.groupIds ?? []), ...(c.groupIds ?? [])])];
        this.contacts.set(c.phone, { ...before, ...c, groupIds });
        for (const g of c.groupIds ?? []) {
          if (!this.groupExists) throw new Error('group does not exist');
          const set = this.members.get(g) ?? new Set();
          set.add(c.phone);
          this.members.set(g, set);
        }
      }
      this.batches.push(batch.length);
      if (this.crashAfterBatch === this.batches.length) throw new Error('crash after the write');
      return { created, updated: batch.length - created };
    },
    get: async (tenantId, groupId) =>
      this.groupExists ? { tenantId, groupId, name: 'g', memberCount: 0, createdAt: '' } : undefined,
  };
}

let tenantSeq = 0;

async function newImport(csv: string | Buffer, options: Partial<ImportOptions> = {}): Promise<ImportJob> {
  const tenantId = `t${tenantSeq++}`;
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

function worker(audience: MemoryAudience, over: Partial<ImportWorkerDeps> = {}) {
  const continuations: string[] = [];
  const deps: ImportWorkerDeps = {
    store,
    files,
    contacts: audience.port,
    groups: audience.port,
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
    const audience = new MemoryAudience();
    const job = await newImport(csvOf(1000), { groupId: GROUP, tags: ['expo'] });
    const { deps } = worker(audience);
    const { outcomes, job: done } = await runToEnd(job, deps);
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
    expect(Math.max(...audience.batches)).toBe(100);
    expect(audience.members.get(GROUP)?.size).toBe(created);
    expect(audience.contacts.get('+972520000001')).toMatchObject({
      name: 'Row 1',
      attributes: { city: 'Town, 1' },
      tags: ['expo'],
      groupIds: [GROUP],
    });
    // The first occurrence wins: row 7 repeats row 1's phone.
    expect(audience.contacts.get('+972520000001')?.name).toBe('Row 1');
  });

  it('hands over before the deadline and resumes at the checkpoint: the same result as one pass', async () => {
    const once = new MemoryAudience();
    const oneJob = await newImport(csvOf(2000));
    const one = await runToEnd(oneJob, worker(once).deps);

    const split = new MemoryAudience();
    const splitJob = await newImport(csvOf(2000));
    // Time runs out after every third batch (a batch is followed by a look at the clock).
    let checks = 0;
    const { deps, continuations } = worker(split, {
      remainingMs: () => (++checks % 4 === 0 ? 1_000 : 900_000),
    });
    const many = await runToEnd(splitJob, deps);
    expect(many.outcomes.at(-1)).toBe('completed');
    expect(many.outcomes.filter((o) => o === 'handed_over').length).toBeGreaterThan(3);
    expect(continuations).toHaveLength(many.outcomes.length - 1);
    expect(many.job?.invocations).toBe(many.outcomes.length);
    expect(many.job?.counts).toEqual(one.job?.counts);
    expect(many.job?.errors).toEqual(one.job?.errors);
    expect([...split.contacts.values()]).toEqual([...once.contacts.values()]);
    // Duplicates whose first occurrence was in an earlier invocation are still duplicates.
    expect(many.job?.counts.updatedCount).toBe(0);
  });

  it('a crash after a batch is written re-applies that batch only: contacts and group counts stay exact', async () => {
    const audience = new MemoryAudience();
    audience.crashAfterBatch = 3;
    const job = await newImport(csvOf(1000), { groupId: GROUP });
    const { deps } = worker(audience);
    await expect(runImport(deps, job.tenantId, job.importId)).rejects.toThrow('crash after the write');
    // The queue delivers the start event again (its lease was given up on the error).
    const { outcomes, job: done } = await runToEnd(job, deps);
    expect(outcomes).toEqual(['completed']);
    expect(audience.members.get(GROUP)?.size).toBe(audience.contacts.size);
    const c = done?.counts;
    expect(c?.processedRows).toBe(1000);
    // The replayed batch's rows were created by the first attempt: the store counts them updated.
    expect(c?.updatedCount).toBe(audience.batches[2]);
    expect((c?.createdCount ?? 0) + (c?.updatedCount ?? 0)).toBe(audience.contacts.size);
    expect(done?.invocations).toBe(2);
  });

  it('a second delivery of the start event while the import runs claims nothing', async () => {
    const audience = new MemoryAudience();
    const job = await newImport(csvOf(300));
    let second: Promise<string> | undefined;
    const { deps } = worker(audience, {
      contacts: {
        upsertMany: async (t, batch, at) => {
          second ??= runImport(worker(audience).deps, t, job.importId);
          return audience.port.upsertMany(t, batch, at);
        },
      },
    });
    expect(await runImport(deps, job.tenantId, job.importId)).toBe('completed');
    expect(await second).toBe('not_claimed');
    // And once it is completed, a late one finds nothing to do.
    expect(await runImport(deps, job.tenantId, job.importId)).toBe('not_claimed');
    expect(audience.batches.reduce((a, b) => a + b, 0)).toBe(audience.contacts.size);
  });

  it('a file that is not CSV fails before any row is written, with its reason and line', async () => {
    const audience = new MemoryAudience();
    const job = await newImport('phone,name\n+972501110001,Dana\n+972501110002,"Omer\n+972501110003,Noa\n');
    const { outcomes, job: done } = await runToEnd(job, worker(audience).deps);
    expect(outcomes).toEqual(['failed']);
    expect(done).toMatchObject({ status: 'failed', failure: { code: 'malformed_csv' } });
    expect(done?.failure?.message).toMatch(/never closed/);
    expect(audience.contacts.size).toBe(0);
  });

  it('a deleted group fails the import; the batches before it stay whole', async () => {
    const audience = new MemoryAudience();
    const job = await newImport(csvOf(500), { groupId: GROUP });
    const { deps } = worker(audience, {
      contacts: {
        upsertMany: async (t, batch, at) => {
          if (audience.batches.length === 2) audience.groupExists = false;
          return audience.port.upsertMany(t, batch, at);
        },
      },
    });
    const { outcomes, job: done } = await runToEnd(job, deps);
    expect(outcomes).toEqual(['failed']);
    expect(done?.failure).toMatchObject({ code: 'group_deleted' });
    expect(done?.counts.createdCount).toBe(200);
  });

  it('on its last delivery an unexpected error fails the import instead of leaving it running', async () => {
    const job = await newImport(csvOf(50));
    const { deps } = worker(new MemoryAudience(), {
      contacts: {
        upsertMany: async () => {
          throw new Error('DynamoDB is down');
        },
      },
    });
    await expect(runImport(deps, job.tenantId, job.importId)).rejects.toThrow('DynamoDB is down');
    expect(await runImport(deps, job.tenantId, job.importId, { lastAttempt: true })).toBe('failed');
    expect((await store.get(job.tenantId, job.importId))?.failure).toMatchObject({ code: 'internal' });
  });

  it('a file that changes between invocations fails the import (reads are pinned to its ETag)', async () => {
    const audience = new MemoryAudience();
    const job = await newImport(csvOf(400));
    let checks = 0;
    const { deps } = worker(audience, { remainingMs: () => (++checks === 2 ? 1_000 : 900_000) });
    expect(await runImport(deps, job.tenantId, job.importId)).toBe('handed_over');
    await files.put(
      importKey(job.tenantId, job.importId),
      Buffer.from(csvOf(400).replace('Row 351', 'Changed')),
    );
    expect(await runImport(deps, job.tenantId, job.importId)).toBe('failed');
    expect((await store.get(job.tenantId, job.importId))?.failure).toMatchObject({ code: 'file_changed' });
  });

  it('a file with a header and no rows completes with nothing imported', async () => {
    const job = await newImport('phone,name\n');
    const { outcomes, job: done } = await runToEnd(job, worker(new MemoryAudience()).deps);
    expect(outcomes).toEqual(['completed']);
    expect(done).toMatchObject({ status: 'completed', totalRows: 0, counts: ZERO_COUNTS });
  });
});
