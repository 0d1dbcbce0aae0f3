import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoContacts } from '../../functions/adapters/dynamo-contacts.ts';
import { newGroupId } from '../../functions/core/ids.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin } from '../support/api-twin.ts';

/**
 * CSV imports through the local twin's HTTP API, end to end: the request, the file in the twin's S3,
 * the S3 event on the imports queue, the worker, the contacts store; and uploads through a presigned
 * URL. Every kind of file the import reads has its fixture under test/fixtures/imports.
 */

const ACME = 'imports-key-acme';
const GLOBEX = 'imports-key-globex';
let api: ApiTwin;
let client: DynamoDBClient;
let contacts: DynamoContacts;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX}` });
  client = new DynamoDBClient({
    endpoint: api.twin.dynamodbEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  // What the import stored, read from the store itself (the routes show it too: GET /v1/contacts/{phone}).
  contacts = new DynamoContacts(doc, api.twin.tableNames.main as string);
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await api?.stop();
});

const fixture = (name: string) => readFileSync(new URL(`../fixtures/imports/${name}`, import.meta.url));

/** POST /v1/contacts/imports with a CSV body. */
async function postCsv(
  csv: string | Buffer,
  options: { key?: string; query?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(
    `${api.twin.apiUrl}/v1/contacts/imports${options.query ? `?${options.query}` : ''}`,
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${options.key ?? ACME}`,
        'content-type': 'text/csv',
        ...options.headers,
      },
      body: csv,
    },
  );
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json, headers: res.headers };
}

/** GET the import until it is no longer running. */
async function untilDone(importId: string, key = ACME, timeoutMs = 60_000): Promise<Json> {
  return waitFor(
    async () => {
      const { status, body } = await api.call('GET', `/v1/contacts/imports/${importId}`, { key });
      expect(status).toBe(200);
      return body.status !== 'running' ? body : undefined;
    },
    { timeoutMs, intervalMs: 200, message: `import ${importId} did not finish` },
  );
}

async function importFixture(name: string, query?: string): Promise<Json> {
  const { status, body } = await postCsv(fixture(name), query ? { query } : {});
  expect(status, JSON.stringify(body)).toBe(202);
  return untilDone(body.importId);
}

describe('POST /v1/contacts/imports with a CSV body', () => {
  it('answers 202 at once, then the import completes with its counts, progress and contacts', async () => {
    const { status, body, headers } = await postCsv(fixture('bom.csv'));
    expect(status).toBe(202);
    expect(body).toEqual({ importId: expect.stringMatching(/^imp_[0-9A-Z]{26}$/), status: 'running' });
    expect(headers.get('location')).toBe(`/v1/contacts/imports/${body.importId}`);
    const done = await untilDone(body.importId);
    expect(done).toMatchObject({
      importId: body.importId,
      status: 'completed',
      source: 'body',
      totalRows: 2,
      processedRows: 2,
      createdCount: 2,
      updatedCount: 0,
      duplicateCount: 0,
      invalidCount: 0,
      progressPct: 100,
      errors: [],
      tags: [],
    });
    expect(Date.parse(done.completedAt)).toBeGreaterThanOrEqual(Date.parse(done.createdAt));
    const contact = await api.call('GET', '/v1/contacts/%2B972501110001', { key: ACME });
    expect(contact.body).toMatchObject({ name: 'Dana Cohen', attributes: { city: 'Haifa' } });
  });

  it.each([
    ['semicolons.csv', '', { createdCount: 2 }],
    ['quoted-multiline.csv', '', { createdCount: 3 }],
    ['crlf.csv', '', { createdCount: 2 }],
    ['header-case.csv', '', { createdCount: 2 }],
    ['tabs.csv', '', { createdCount: 1 }],
    ['national-format.csv', 'defaultCountry=IL', { createdCount: 4 }],
    ['lost-zeros.csv', 'defaultCountry=il', { createdCount: 3 }],
    ['scientific-notation.csv', 'defaultCountry=IL', { createdCount: 1, invalidCount: 2 }],
    ['duplicates.csv', 'defaultCountry=IL', { createdCount: 3, duplicateCount: 2 }],
    ['blank-lines.csv', '', { createdCount: 2, totalRows: 2 }],
    ['bad-row.csv', '', { createdCount: 2, invalidCount: 6 }],
  ])('%s %s', async (name, query, counts) => {
    const done = await importFixture(name, query);
    expect(done).toMatchObject({ status: 'completed', ...counts });
  });

  it('stores what each file means: quoted fields, header spellings, typed values, national numbers', async () => {
    await importFixture('quoted-multiline.csv');
    expect((await contacts.get('acme', '+972501110021'))?.attributes).toEqual({
      address: '12 Herzl St,\nApt 4, Haifa',
    });
    await importFixture('header-case.csv');
    expect(await contacts.get('acme', '+972501110041')).toMatchObject({
      name: 'Dana',
      tags: ['vip', 'north'],
      language: 'he',
      timeZone: 'Asia/Jerusalem',
      consent: { status: 'opted_in', source: 'import' },
      attributes: { City: 'Haifa' },
    });
    await importFixture('lost-zeros.csv', 'defaultCountry=IL');
    expect((await contacts.get('acme', '+972501110061'))?.attributes).toEqual({ zip: '02134' });
  });

  it('lists each refused row with its reason and the value at fault', async () => {
    const done = await importFixture('scientific-notation.csv', 'defaultCountry=IL');
    expect(done.errors).toEqual([
      { row: 1, line: 2, input: '9.72501E+11', reason: 'scientific_notation' },
      { row: 3, line: 4, input: '9,72501E+11', reason: 'scientific_notation' },
    ]);
  });

  it('adds every contact to the group and the tags; the group count is exact, also on a second import', async () => {
    const group = (await api.call('POST', '/v1/groups', { key: ACME, body: { name: 'Expo' } })).body;
    const query = `defaultCountry=IL&groupId=${group.groupId}&tags=expo-2026,%20north`;
    const csv =
      'phone,name\n050-111-0401,Dana\n+972501110401,Dana again\n050-111-0402,Omer\n050-111-0403,Noa\n';
    const post = async () => untilDone((await postCsv(csv, { query })).body.importId);
    const first = await post();
    expect(first).toMatchObject({ groupId: group.groupId, tags: ['expo-2026', 'north'], createdCount: 3 });
    const again = await post();
    expect(again).toMatchObject({ createdCount: 0, updatedCount: 3, duplicateCount: 1 });
    expect((await api.call('GET', `/v1/groups/${group.groupId}`, { key: ACME })).body.memberCount).toBe(3);
    expect((await api.call('GET', '/v1/contacts/%2B972501110401', { key: ACME })).body).toMatchObject({
      groupIds: [group.groupId],
      tags: expect.arrayContaining(['expo-2026', 'north']),
    });
  });

  it('a file that breaks the CSV rules fails whole, with its reason and line, and writes no contact', async () => {
    const done = await importFixture('unclosed-quote.csv');
    expect(done).toMatchObject({
      status: 'failed',
      totalRows: null,
      processedRows: 0,
      failure: { code: 'malformed_csv', message: expect.stringMatching(/never closed/) },
    });
    expect(await contacts.get('acme', '+972501110121')).toBeUndefined();
  });

  it('refuses at once what cannot be a contacts CSV: 400 with the reason, nothing stored', async () => {
    const cases: [string | Buffer, string][] = [
      ['', 'empty_file'],
      [Buffer.from('PK\u0003\u0004 a workbook'), 'spreadsheet_file'],
      [fixture('windows-1255.csv'), 'not_utf8'],
      ['email,name\na@b.c,Dana\n', 'no_phone_column'],
      ['phone,#id\n+972501110001,7\n', 'invalid_column_name'],
    ];
    for (const [csv, reason] of cases) {
      const { status, body } = await postCsv(csv);
      expect(status, reason).toBe(400);
      expect(body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '', reason }] });
    }
    const list = await api.call('GET', '/v1/contacts/imports?limit=500', { key: ACME });
    expect(list.body.items.every((i: Json) => i.status !== 'running')).toBe(true);
  });

  it('refuses other media types (415), unknown or bad query parameters and a missing group (400, 404)', async () => {
    const asText = await postCsv('phone\n+972501110001\n', { headers: { 'content-type': 'text/plain' } });
    expect(asText.status).toBe(415);
    expect(asText.body.error.details[0]).toMatchObject({
      path: 'Content-Type',
      expected: ['text/csv', 'application/json'],
    });
    const latin1 = await postCsv('phone\n', { headers: { 'content-type': 'text/csv; charset=iso-8859-1' } });
    expect(latin1.status).toBe(415);
    const typo = await postCsv('phone\n', { query: 'defaultCuntry=IL' });
    expect(typo.status).toBe(400);
    expect(typo.body.error.details[0].path).toBe('defaultCuntry');
    const badCountry = await postCsv('phone\n', { query: 'defaultCountry=XX' });
    expect(badCountry.body.error.details[0].path).toBe('defaultCountry');
    const noGroup = await postCsv('phone\n', { query: `groupId=${newGroupId()}` });
    expect(noGroup.status).toBe(404);
    expect(noGroup.body.error.details[0].path).toBe('groupId');
  });

  it('the same Idempotency-Key and file answer the same import; the key with another file is 409', async () => {
    const headers = { 'idempotency-key': `import-${Date.now()}` };
    const first = await postCsv(fixture('crlf.csv'), { headers });
    const again = await postCsv(fixture('crlf.csv'), { headers });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ importId: first.body.importId, idempotent: true });
    const other = await postCsv(fixture('bom.csv'), { headers });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      details: [{ path: 'Idempotency-Key', importId: first.body.importId }],
    });
    // Another tenant's same key is its own.
    const globex = await postCsv(fixture('crlf.csv'), { headers, key: GLOBEX });
    expect(globex.status).toBe(202);
    expect(globex.body.importId).not.toBe(first.body.importId);
    await untilDone(globex.body.importId, GLOBEX);
  });
});

describe('uploads: POST /v1/uploads, a presigned PUT, then POST /v1/contacts/imports { uploadId }', () => {
  async function upload(body: string | Buffer, key = ACME, declare = false): Promise<string> {
    const size = Buffer.byteLength(body);
    const slot = await api.call('POST', '/v1/uploads', {
      key,
      ...(declare ? { body: { contentLength: size } } : {}),
    });
    expect(slot.status).toBe(201);
    const put = await fetch(slot.body.url, { method: 'PUT', headers: slot.body.headers, body });
    expect(put.status).toBe(200);
    return slot.body.uploadId;
  }

  it('gives a presigned PUT URL with its headers and expiry; the uploaded file imports', async () => {
    const slot = await api.call('POST', '/v1/uploads', { key: ACME, body: { contentLength: 1234 } });
    expect(slot.status).toBe(201);
    expect(slot.body).toMatchObject({
      uploadId: expect.stringMatching(/^upl_[0-9A-Z]{26}$/),
      method: 'PUT',
      headers: { 'Content-Type': 'text/csv', 'Content-Length': '1234' },
      maxBytes: 104_857_600,
    });
    const url = new URL(slot.body.url);
    expect(url.pathname).toBe(`/broadcast-uploads/uploads/acme/${slot.body.uploadId}`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    // No checksum of an empty body signed into the URL (S3 would refuse the real file).
    expect(url.searchParams.has('x-amz-checksum-crc32')).toBe(false);
    expect(Date.parse(slot.body.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);

    const uploadId = await upload(fixture('duplicates.csv'), ACME, true);
    const started = await api.call('POST', '/v1/contacts/imports?defaultCountry=IL', {
      key: ACME,
      body: { uploadId },
    });
    expect(started.status).toBe(202);
    expect(await untilDone(started.body.importId)).toMatchObject({
      status: 'completed',
      source: 'upload',
      uploadId,
      createdCount: expect.any(Number),
      duplicateCount: 2,
    });
  });

  it('an upload imports once (409 after), and is 404 to another tenant or when unknown', async () => {
    const uploadId = await upload('phone\n+972501110201\n');
    const other = await api.call('POST', '/v1/contacts/imports', { key: GLOBEX, body: { uploadId } });
    expect(other.status).toBe(404);
    const first = await api.call('POST', '/v1/contacts/imports', { key: ACME, body: { uploadId } });
    expect(first.status).toBe(202);
    const second = await api.call('POST', '/v1/contacts/imports', { key: ACME, body: { uploadId } });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({
      code: 'INVALID_STATE',
      details: [{ path: 'uploadId', status: 'imported', importId: first.body.importId }],
    });
    const unknown = await api.call('POST', '/v1/contacts/imports', {
      key: ACME,
      body: { uploadId: 'upl_01JD7X1B2C3D4E5F6G7H8J9K0M' },
    });
    expect(unknown.status).toBe(404);
    expect(
      (await api.call('POST', '/v1/contacts/imports', { key: ACME, body: { uploadId: 'nope' } })).status,
    ).toBe(400);
    await untilDone(first.body.importId);
  });

  it('an upload whose file was never PUT is 409, and writes nothing', async () => {
    const slot = await api.call('POST', '/v1/uploads', { key: ACME });
    const res = await api.call('POST', '/v1/contacts/imports', {
      key: ACME,
      body: { uploadId: slot.body.uploadId },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.details[0]).toMatchObject({ path: 'uploadId', status: 'not_uploaded' });
    // Once the file is there, the same upload imports.
    const put = await fetch(slot.body.url, {
      method: 'PUT',
      headers: slot.body.headers,
      body: 'phone\n+972501110211\n',
    });
    expect(put.status).toBe(200);
    const later = await api.call('POST', '/v1/contacts/imports', {
      key: ACME,
      body: { uploadId: slot.body.uploadId },
    });
    expect(later.status).toBe(202);
    await untilDone(later.body.importId);
  });

  it('an uploaded workbook is refused at once, like a body', async () => {
    const uploadId = await upload(Buffer.from('PK\u0003\u0004 a workbook'));
    const res = await api.call('POST', '/v1/contacts/imports', { key: ACME, body: { uploadId } });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]).toMatchObject({ reason: 'spreadsheet_file' });
  });

  it('a declared size is in the signature: the upload request validates it', async () => {
    const tooBig = await api.call('POST', '/v1/uploads', { key: ACME, body: { contentLength: 104_857_601 } });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.details[0].path).toBe('contentLength');
    const unknownField = await api.call('POST', '/v1/uploads', { key: ACME, body: { size: 10 } });
    expect(unknownField.status).toBe(400);
  });
});

describe('reading imports: tenant isolation', () => {
  it("another tenant's import is 404; each tenant lists its own, newest first, paged", async () => {
    const mine = await postCsv('phone\n+972501110301\n');
    const theirs = await postCsv('phone\n+972501110302\n', { key: GLOBEX });
    await Promise.all([untilDone(mine.body.importId), untilDone(theirs.body.importId, GLOBEX)]);
    expect(
      (await api.call('GET', `/v1/contacts/imports/${theirs.body.importId}`, { key: ACME })).status,
    ).toBe(404);
    expect((await api.call('GET', '/v1/contacts/imports/imp_nope', { key: ACME })).status).toBe(404);
    expect((await api.call('GET', `/v1/contacts/imports/${mine.body.importId}`)).status).toBe(401);
    // Globex's contact is Globex's only.
    expect((await api.call('GET', '/v1/contacts/%2B972501110302', { key: ACME })).status).toBe(404);
    expect((await api.call('GET', '/v1/contacts/%2B972501110302', { key: GLOBEX })).status).toBe(200);

    const page1 = await api.call('GET', '/v1/contacts/imports?limit=1', { key: GLOBEX });
    expect(page1.body.items).toHaveLength(1);
    expect(page1.body.items[0].importId).toBe(theirs.body.importId);
    expect(page1.body.items[0].errors).toBeUndefined();
    const page2 = await api.call('GET', `/v1/contacts/imports?limit=500&cursor=${page1.body.nextCursor}`, {
      key: GLOBEX,
    });
    expect(page2.body.items.map((i: Json) => i.importId)).not.toContain(theirs.body.importId);
    // Globex's cursor is no position in Acme's list.
    const stolen = await api.call('GET', `/v1/contacts/imports?cursor=${page1.body.nextCursor}`, {
      key: ACME,
    });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error.details[0].path).toBe('cursor');
  });
});

describe('a bigger file', () => {
  // 15 batches of 100, written four at once: every step of the worker more than once. The rate of a
  // big import (100,000 rows) is the benchmark's: `node bench/import-contacts.ts`.
  const ROWS = 1_500;
  it('1,500 rows into a group, through the twin: every row accounted for', async () => {
    const group = (await api.call('POST', '/v1/groups', { key: ACME, body: { name: 'Fifteen hundred' } }))
      .body;
    const rows = ['phone,name,city,zip,vip'];
    for (let i = 0; i < ROWS; i++)
      rows.push(
        `+97254${String(1_000_000 + i).padStart(7, '0')},Person ${i},City ${i % 40},0${1000 + (i % 900)},${i % 2 === 0}`,
      );
    const { status, body } = await postCsv(`${rows.join('\n')}\n`, { query: `groupId=${group.groupId}` });
    expect(status).toBe(202);
    const done = await untilDone(body.importId, ACME, 240_000);
    expect(done).toMatchObject({ status: 'completed', totalRows: ROWS, createdCount: ROWS, invalidCount: 0 });
    expect((await api.call('GET', `/v1/groups/${group.groupId}`, { key: ACME })).body.memberCount).toBe(ROWS);
    expect(await contacts.get('acme', '+972541001499')).toMatchObject({
      name: 'Person 1499',
      attributes: { city: 'City 19', zip: '01599', vip: false },
    });
  }, 300_000);
});
