/**
 * `node bench/import-contacts.ts [--rows=100000] [--no-group] [--broadcast | --send]`: imports a generated contacts CSV
 * through the local twin's API, as a user would (POST /v1/uploads, a presigned PUT, POST
 * /v1/contacts/imports { uploadId } into a new group), and prints the wall time and rows per second,
 * from the 202 to `completed`. Not part of `npm test` (it takes minutes). The twin runs in this
 * process, on free ports, in a temporary DATA_DIR (on disk, as `npm start` keeps it).
 *
 * With `--broadcast` (and a group), it then times the dry run and the create of a broadcast to that
 * group (POST /v1/broadcasts/preview, POST /v1/broadcasts scheduled a day ahead, so nothing is sent):
 * both read every member and render its values inside the request, which API Gateway ends at 29 s.
 * With `--send`, it sends a broadcast to the group for real (through the simulator, at SENDER_MPS, 80
 * by default: minutes for 20,000) and checks every message: each member got exactly one, with its
 * own name and city from the file (the first row of a repeated number), and nobody else got one.
 *
 * The file: realistic columns (phone in national format with defaultCountry IL, name, city, a ZIP
 * with leading zeros, language, tags, consent, a numeric and a boolean attribute), 1 % duplicates
 * and 0.5 % invalid numbers, so that every path of the worker is exercised.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { localConfigFromEnv } from '../lib/local/config.ts';
import { startLocalTwin } from '../lib/local/twin.ts';
import { waitFor } from '../lib/local/wait-for.ts';

const args = process.argv.slice(2);
const rowsArg = args.find((a) => a.startsWith('--rows='));
const ROWS = rowsArg ? Number(rowsArg.slice('--rows='.length)) : 100_000;
const GROUP = !args.includes('--no-group');
const SEND = args.includes('--send');
const BROADCAST = args.includes('--broadcast') || SEND;
if (
  !Number.isInteger(ROWS) ||
  ROWS < 1 ||
  (BROADCAST && !GROUP) ||
  args.some((a) => a !== '--no-group' && a !== '--broadcast' && a !== '--send' && !a.startsWith('--rows='))
) {
  process.stderr.write(
    'Usage: node bench/import-contacts.ts [--rows=100000] [--no-group | --broadcast | --send]\n',
  );
  process.exit(2);
}

const KEY = 'bench-import-key';
const CITIES = ['Haifa', 'Tel Aviv', 'Jerusalem', "Be'er Sheva", 'Eilat', 'Nazareth', 'Netanya', 'Ashdod'];
const LANGUAGES = ['he', 'ar', 'en', 'ru'];

/**
 * Row i's mobile in national format (`052…`). Its last digit is always 7: the simulator plays a
 * failure for numbers ending 0001–0005 (README, "The Twilio simulator"), and these must all succeed.
 */
const nationalPhone = (i: number) => `052${String(i).padStart(6, '0')}7`;

/** The CSV: national numbers, some duplicated, some invalid; quoted names with commas. */
export function contactsCsv(rows: number): {
  csv: string;
  distinct: number;
  duplicates: number;
  invalid: number;
} {
  const lines = ['Phone,Name,City,ZIP,Language,Tags,Consent,Farm size,Member'];
  let duplicates = 0;
  let invalid = 0;
  for (let i = 0; i < rows; i++) {
    let phone = nationalPhone(i);
    if (i % 200 === 199) {
      phone = `n/a ${i}`; // what a spreadsheet has where nobody typed a number
      invalid++;
    } else if (i % 100 === 99) {
      phone = nationalPhone(i - 50); // an earlier row's number
      duplicates++;
    }
    lines.push(
      [
        phone,
        `"Cohen, Dana ${i}"`,
        CITIES[i % CITIES.length],
        `0${String(1000 + (i % 9000)).padStart(4, '0')}`,
        LANGUAGES[i % LANGUAGES.length],
        i % 3 === 0 ? '"north,vip"' : 'south',
        i % 4 === 0 ? 'yes' : 'no',
        String((i % 500) / 10),
        i % 2 === 0 ? 'TRUE' : 'FALSE',
      ].join(','),
    );
  }
  return { csv: `${lines.join('\r\n')}\r\n`, distinct: rows - duplicates - invalid, duplicates, invalid };
}

type Call = (
  method: string,
  route: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: the API's JSON, read field by field.
) => Promise<{ status: number; body: Record<string, any> }>;

/** The dry run and the create of a broadcast to the whole group, each timed from request to answer. */
async function timeAudienceBroadcast(call: Call, groupId: string, members: number): Promise<void> {
  const body = {
    name: 'Bench audience',
    // The simulator's approved UTILITY sample with two variables, filled from each contact.
    template: {
      contentSid: 'HX880b0d228b6b512bae0f14a67c858ce4',
      variables: { '1': '{{name|Farmer}}', '2': '{{City}}' },
    },
    audience: { groupIds: [groupId] },
    scheduledAt: new Date(Date.now() + 86_400_000).toISOString(),
  };
  for (const route of ['/v1/broadcasts/preview', '/v1/broadcasts']) {
    const started = performance.now();
    const res = await call('POST', route, body);
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `${JSON.stringify({ route, members, status: res.status, seconds: Number(seconds.toFixed(1)), totalRecipients: res.body.totalRecipients })}\n`,
    );
    if (res.status >= 300) throw new Error(`${route} answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
}

/** Each imported member's values as the template should get them: `{ 1: name, 2: city }`, by E.164 phone. */
function expectedValues(rows: number): Map<string, Record<string, string>> {
  const values = new Map<string, Record<string, string>>();
  for (let i = 0; i < rows; i++) {
    if (i % 200 === 199) continue; // invalid
    const first = i % 100 === 99 ? i - 50 : i; // a repeated number keeps its first row
    const phone = `+972${nationalPhone(first).slice(1)}`;
    if (!values.has(phone))
      values.set(phone, { '1': `Cohen, Dana ${first}`, '2': CITIES[first % CITIES.length] as string });
  }
  return values;
}

/** Sends a broadcast to the whole group and checks every message the simulator accepted. */
async function sendToGroup(
  call: Call,
  twin: Awaited<ReturnType<typeof startLocalTwin>>,
  groupId: string,
  expected: Map<string, Record<string, string>>,
): Promise<void> {
  const started = performance.now();
  const created = await call('POST', '/v1/broadcasts', {
    name: 'Bench audience send',
    template: {
      contentSid: 'HX880b0d228b6b512bae0f14a67c858ce4',
      variables: { '1': '{{name|Farmer}}', '2': '{{City}}' },
    },
    audience: { groupIds: [groupId] },
  });
  if (created.status !== 202)
    throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
  const acceptedS = (performance.now() - started) / 1000;
  const id = created.body.broadcastId as string;
  const final = await waitFor(
    async () => {
      const { body } = await call('GET', `/v1/broadcasts/${id}`);
      return ['completed', 'partial', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
    },
    { timeoutMs: 60 * 60_000, intervalMs: 2000, message: 'the broadcast did not end within an hour' },
  );
  const seconds = (performance.now() - started) / 1000;
  const got = new Map<string, Record<string, string>[]>();
  for (const m of twin.simulator?.messages() ?? []) {
    if (!m.contentVariables) continue;
    const phone = m.to.replace(/^whatsapp:/, '');
    got.set(phone, [...(got.get(phone) ?? []), JSON.parse(m.contentVariables)]);
  }
  let wrong = 0;
  let missing = 0;
  let twice = 0;
  for (const [phone, values] of expected) {
    const messages = got.get(phone) ?? [];
    if (messages.length === 0) missing++;
    if (messages.length > 1) twice++;
    if (messages.some((m) => JSON.stringify(m) !== JSON.stringify(values))) wrong++;
  }
  const strangers = [...got.keys()].filter((phone) => !expected.has(phone)).length;
  process.stdout.write(
    `${JSON.stringify({ send: true, members: expected.size, status: final.status, acceptedS: Number(acceptedS.toFixed(1)), seconds: Number(seconds.toFixed(1)), read: final.counts?.read, missing, twice, wrongValues: wrong, strangers })}\n`,
  );
  if (final.status !== 'completed' || missing || twice || wrong || strangers)
    throw new Error(
      'the broadcast to the group did not reach every member exactly once with their own values',
    );
}

async function main(): Promise<void> {
  // The handlers' logs (loaded by the twin below) at WARN: the figures only.
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-import-'));
  const twin = await startLocalTwin(
    localConfigFromEnv({
      DATA_DIR: dataDir,
      PORT: '0',
      TWILIO_SIMULATOR_PORT: '0',
      LOCAL_API_KEYS: `bench:${KEY}`,
    }),
    { log: () => {} },
  );
  const call = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${twin.apiUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the API's JSON, read field by field below.
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  try {
    const file = contactsCsv(ROWS);
    const bytes = Buffer.byteLength(file.csv);
    process.stdout.write(
      `${ROWS} rows, ${(bytes / 1_048_576).toFixed(1)} MiB (${file.distinct} distinct, ${file.duplicates} duplicates, ${file.invalid} invalid)\n`,
    );
    const group = GROUP ? (await call('POST', '/v1/groups', { name: 'Bench import' })).body : undefined;
    const upload = await call('POST', '/v1/uploads', { contentLength: bytes });
    const put = await fetch(upload.body.url, { method: 'PUT', headers: upload.body.headers, body: file.csv });
    if (put.status !== 200) throw new Error(`upload PUT answered ${put.status}`);
    const started = Date.now();
    const query = `defaultCountry=IL${group ? `&groupId=${group.groupId}` : ''}`;
    const accepted = await call('POST', `/v1/contacts/imports?${query}`, { uploadId: upload.body.uploadId });
    if (accepted.status !== 202)
      throw new Error(`import answered ${accepted.status}: ${JSON.stringify(accepted.body)}`);
    let last = -1;
    const done = await waitFor(
      async () => {
        const { body } = await call('GET', `/v1/contacts/imports/${accepted.body.importId}`);
        if (body.progressPct !== last && body.progressPct % 10 === 0) {
          last = body.progressPct;
          process.stdout.write(
            `  ${((Date.now() - started) / 1000).toFixed(0)} s: ${body.progressPct} % (${body.processedRows} rows)\n`,
          );
        }
        return body.status === 'running' ? undefined : body;
      },
      { timeoutMs: 60 * 60_000, intervalMs: 1000, message: 'the import did not finish within an hour' },
    );
    const seconds = (Date.now() - started) / 1000;
    const memberCount = group
      ? (await call('GET', `/v1/groups/${group.groupId}`)).body.memberCount
      : undefined;
    process.stdout.write(
      `${JSON.stringify({
        rows: ROWS,
        bytes,
        group: GROUP,
        status: done.status,
        seconds: Number(seconds.toFixed(1)),
        rowsPerSecond: Math.round(ROWS / seconds),
        createdCount: done.createdCount,
        updatedCount: done.updatedCount,
        duplicateCount: done.duplicateCount,
        invalidCount: done.invalidCount,
        memberCount,
      })}\n`,
    );
    if (
      done.status !== 'completed' ||
      done.createdCount !== file.distinct ||
      done.duplicateCount !== file.duplicates ||
      done.invalidCount !== file.invalid ||
      (GROUP && memberCount !== file.distinct)
    )
      throw new Error('the import did not account for every row as expected');
    if (SEND && group) await sendToGroup(call, twin, group.groupId as string, expectedValues(ROWS));
    else if (BROADCAST && group) await timeAudienceBroadcast(call, group.groupId as string, file.distinct);
  } finally {
    await twin.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`import bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
