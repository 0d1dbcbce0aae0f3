import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ContactUpsert } from '../../functions/core/audience.ts';
import {
  type CsvRecord,
  detectDelimiter,
  HEADER_PROBE_BYTES,
  ImportFileError,
  readHeader,
  readRecords,
} from '../../functions/core/csv-file.ts';
import { planColumns } from '../../functions/core/import-columns.ts';
import type { RowContext } from '../../functions/core/import-rows.ts';
import { ImportTally } from '../../functions/core/import-tally.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/imports/${name}`, import.meta.url));
const AT = '2026-11-30T10:00:00.000Z';

/** The file read as the import worker reads it: header first, then the records from the data offset. */
async function read(bytes: Buffer, context: Partial<RowContext> = {}, chunkSize = 7) {
  const header = readHeader(bytes.subarray(0, HEADER_PROBE_BYTES), bytes.length <= HEADER_PROBE_BYTES);
  const plan = planColumns(header.fields);
  const tally = new ImportTally(plan, { tags: [], at: AT, delimiter: header.delimiter, ...context });
  const contacts: ContactUpsert[] = [];
  const records: CsvRecord[] = [];
  // Small chunks: records, quotes and multi-byte characters cross chunk boundaries.
  const chunks: Buffer[] = [];
  for (let i = header.dataOffset; i < bytes.length; i += chunkSize)
    chunks.push(bytes.subarray(i, i + chunkSize));
  for await (const record of readRecords(Readable.from(chunks), header.delimiter, {
    offset: header.dataOffset,
    row: 0,
    line: header.dataLine,
  })) {
    records.push(record);
    const taken = tally.take(record);
    if (taken.contact) contacts.push(taken.contact);
  }
  return { header, plan, contacts, records, counts: tally.snapshot, errors: tally.errors };
}

const readFixture = (name: string, context: Partial<RowContext> = {}) => read(fixture(name), context);

async function fileError(bytes: Buffer): Promise<ImportFileError> {
  try {
    await read(bytes);
  } catch (error) {
    if (error instanceof ImportFileError) return error;
    throw error;
  }
  throw new Error('expected the file to be refused');
}

describe('reading contacts files', () => {
  it('UTF-8 with a byte order mark: the BOM is not part of the first column name, offsets count it', async () => {
    const { header, contacts, records } = await readFixture('bom.csv');
    expect(header.fields[0]).toBe('phone');
    expect(header.dataOffset).toBe(3 + 'phone,name,city\n'.length);
    expect(contacts).toEqual([
      { phone: '+972501110001', name: 'Dana Cohen', attributes: { city: 'Haifa' } },
      { phone: '+972501110002', name: 'Omer Levi', attributes: { city: 'Tel Aviv' } },
    ]);
    // Each record's end offset is a resume point: the file from there holds exactly the rest.
    expect(records.map((r) => r.endOffset)).toEqual([
      header.dataOffset + '+972501110001,Dana Cohen,Haifa\n'.length,
      fixture('bom.csv').length,
    ]);
  });

  it('semicolons: found from the header, and a comma inside an unquoted field stays in it', async () => {
    const { header, contacts } = await readFixture('semicolons.csv');
    expect(header.delimiter).toBe(';');
    expect(contacts.map((c) => [c.name, c.attributes?.notes])).toEqual([
      ['Cohen, Dana', 'likes figs, dates'],
      ['Levi; Omer', 'quoted; with a semicolon'],
    ]);
  });

  it('tabs, too', async () => {
    const { header, contacts } = await readFixture('tabs.csv');
    expect(header.delimiter).toBe('\t');
    expect(contacts[0]?.attributes).toEqual({ notes: 'comma, inside' });
  });

  it('quoted fields with commas, doubled quotes and line breaks; rows and lines counted apart', async () => {
    const { contacts, records } = await readFixture('quoted-multiline.csv');
    expect(contacts.map((c) => [c.name, c.attributes?.address])).toEqual([
      ['Dana "D" Cohen', '12 Herzl St,\nApt 4, Haifa'],
      ['Omer, Levi', 'line one\r\nline two'],
      ['Plain', 'no quotes'],
    ]);
    expect(records.map((r) => [r.row, r.line])).toEqual([
      [1, 2],
      [2, 4],
      [3, 6],
    ]);
  });

  it('CRLF line endings', async () => {
    const { contacts, records } = await readFixture('crlf.csv');
    expect(contacts.map((c) => [c.phone, c.name])).toEqual([
      ['+972501110031', 'Dana'],
      ['+972501110032', 'Omer'],
    ]);
    expect(records.at(-1)?.endOffset).toBe(fixture('crlf.csv').length);
  });

  it('header names in any case and spelling; known columns typed, the rest attributes', async () => {
    const { contacts } = await readFixture('header-case.csv');
    expect(contacts).toEqual([
      {
        phone: '+972501110041',
        name: 'Dana',
        tags: ['vip', 'north'],
        attributes: { City: 'Haifa' },
        language: 'he',
        timeZone: 'Asia/Jerusalem',
        consent: { status: 'opted_in', source: 'import', at: AT },
      },
      {
        phone: '+972501110042',
        name: 'Omer',
        tags: ['south', 'new'],
        attributes: { City: 'Eilat' },
        language: 'en-US',
        timeZone: 'America/New_York',
      },
    ]);
  });

  it('national formats with defaultCountry; without it they are refused with the reason', async () => {
    const withCountry = await readFixture('national-format.csv', { defaultCountry: 'IL' });
    expect(withCountry.contacts.map((c) => c.phone)).toEqual([
      '+972501110051',
      '+972501110052',
      '+972501110053',
      '+972501110054',
    ]);
    const without = await readFixture('national-format.csv');
    expect(without.counts).toMatchObject({ processedRows: 4, invalidCount: 2 });
    expect(without.errors).toEqual([
      { row: 1, line: 2, input: '050-111-0051', reason: 'invalid_country' },
      { row: 2, line: 3, input: '(050) 111 0052', reason: 'invalid_country' },
    ]);
  });

  it('a mobile that lost its leading zero in a spreadsheet still imports; a ZIP keeps its zero', async () => {
    const { contacts } = await readFixture('lost-zeros.csv', { defaultCountry: 'IL' });
    expect(contacts.map((c) => [c.phone, c.attributes?.zip])).toEqual([
      ['+972501110061', '02134'],
      ['+972501110062', '00501'],
      ['+972541110063', 12345],
    ]);
  });

  it('scientific notation is refused with its reason, in either decimal mark', async () => {
    const { contacts, errors } = await readFixture('scientific-notation.csv', { defaultCountry: 'IL' });
    expect(contacts.map((c) => c.phone)).toEqual(['+972501110071']);
    expect(errors).toEqual([
      { row: 1, line: 2, input: '9.72501E+11', reason: 'scientific_notation' },
      { row: 3, line: 4, input: '9,72501E+11', reason: 'scientific_notation' },
    ]);
  });

  it('duplicates within the file are counted; the first occurrence wins', async () => {
    const { contacts, counts } = await readFixture('duplicates.csv', { defaultCountry: 'IL' });
    expect(contacts.map((c) => [c.phone, c.name])).toEqual([
      ['+972501110081', 'Dana'],
      ['+972501110082', 'Omer'],
      ['+972501110083', 'Noa'],
    ]);
    expect(counts).toMatchObject({ processedRows: 5, duplicateCount: 2, invalidCount: 0 });
  });

  it('blank lines and rows of empty cells are skipped, not counted, but keep the row numbers', async () => {
    const { contacts, counts, records } = await readFixture('blank-lines.csv');
    expect(contacts.map((c) => c.phone)).toEqual(['+972501110091', '+972501110092']);
    expect(counts.processedRows).toBe(2);
    // Row 2 is Dana, row 5 Omer: the spreadsheet's rows 3 and 6.
    expect(records.filter((r) => r.fields.some((f) => f.trim())).map((r) => r.row)).toEqual([2, 5]);
  });

  it('a bad row is a row error with its reason and value; the other rows import', async () => {
    const { contacts, counts, errors } = await readFixture('bad-row.csv');
    expect(contacts.map((c) => c.phone)).toEqual(['+972501110101', '+972501110108']);
    expect(counts).toEqual({
      processedRows: 8,
      createdCount: 0,
      updatedCount: 0,
      duplicateCount: 0,
      invalidCount: 6,
    });
    expect(errors).toEqual([
      { row: 2, line: 3, input: '+972501110102,Omer,he,yes,extra', reason: 'column_count' },
      { row: 3, line: 4, input: 'not-a-phone', reason: 'invalid_format' },
      { row: 4, line: 5, input: '', reason: 'missing_phone' },
      { row: 5, line: 6, input: 'not a language', reason: 'invalid_language', column: 'language' },
      { row: 6, line: 7, input: 'maybe', reason: 'invalid_consent', column: 'consent' },
      { row: 7, line: 8, input: '+97221234567', reason: 'not_mobile' },
    ]);
  });

  it('keeps the first 100 row errors and counts them all', async () => {
    const rows = Array.from({ length: 150 }, (_, i) => `bad${i},x`).join('\n');
    const { counts, errors } = await read(Buffer.from(`phone,name\n${rows}\n`));
    expect(counts.invalidCount).toBe(150);
    expect(errors).toHaveLength(100);
    expect(errors.at(-1)?.row).toBe(100);
  });
});

describe('files that are not contacts CSV: one clear error before any row', () => {
  it.each([
    ['an empty file', Buffer.alloc(0), 'empty_file', 'The file is empty.'],
    [
      'an Excel workbook',
      Buffer.from('PK\u0003\u0004rest of a zip'),
      'spreadsheet_file',
      /workbook.*CSV UTF-8/,
    ],
    ['UTF-16 text', Buffer.from('\ufffephone', 'utf16le'), 'utf16', /UTF-16/],
    ['binary data', Buffer.from([0x70, 0x68, 0, 0x6e]), 'not_text', /not text/],
    ['no phone column', Buffer.from('email,name\na@b.c,Dana\n'), 'no_phone_column', /'email', 'name'/],
    ['two columns of one name', Buffer.from('phone,City,city\n'), 'duplicate_column', /'City' and 'city'/],
    ['an empty header line', Buffer.from('\n+972501110001\n'), 'no_header', /first line is empty/],
  ])('%s', async (_what, bytes, code, message) => {
    const error = await fileError(bytes);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('Windows-1255 text (a Hebrew Excel export): not UTF-8, with the line', async () => {
    const error = await fileError(fixture('windows-1255.csv'));
    expect(error).toMatchObject({ code: 'not_utf8', line: 2 });
    expect(error.message).toMatch(/Line 2 is not UTF-8.*CSV UTF-8/);
  });

  it('an unclosed quote', async () => {
    const error = await fileError(fixture('unclosed-quote.csv'));
    expect(error.code).toBe('malformed_csv');
    expect(error.message).toMatch(/never closed/);
  });

  it('a quote inside an unquoted field, with its line', async () => {
    const error = await fileError(Buffer.from('phone,name\n+972501110001,Dana\n+972501110002,Om"er\n'));
    expect(error).toMatchObject({ code: 'malformed_csv', line: 3 });
  });

  it('a record longer than the limit (one endless line)', async () => {
    const error = await fileError(Buffer.from(`phone,name\n+972501110001,${'x'.repeat(70_000)}\n`));
    expect(error.code).toBe('record_too_long');
  });
});

describe('the delimiter of a header line', () => {
  it.each([
    ['phone,name', ','],
    ['phone;name;city', ';'],
    ['phone\tname', '\t'],
    ['"name, full";phone', ';'],
    ['phone', ','],
  ])('%j → %j', (line, expected) => {
    expect(detectDelimiter(line)).toBe(expected);
  });
});

describe('planning columns', () => {
  it("imports a members export back as it is: consent kept as recorded, the product's own columns left alone", async () => {
    // The header and a row as GET /v1/groups/{id}/members?format=csv writes them (core/export-columns.ts).
    const { contacts, errors } = await read(
      Buffer.from(
        '\uFEFFphone,name,tags,language,timeZone,consent,consentSource,consentAt,suppressed,createdAt,updatedAt,City,ZIP\r\n' +
          '\'+972501234501,"Cohen, Dana","north, vip",he,Asia/Jerusalem,opted_in,web_form,2026-11-30T08:17:17.432Z,false,2026-11-30T08:17:17.678Z,2026-11-30T08:17:17.678Z,Haifa,02134\r\n' +
          "'+972501234502,Omer Levi,,,Asia/Jerusalem,unknown,,,true,2026-11-30T08:17:17.678Z,2026-11-30T08:17:17.678Z,Eilat,88000\r\n",
      ),
    );
    expect(errors).toEqual([]);
    expect(contacts).toEqual([
      {
        phone: '+972501234501',
        name: 'Cohen, Dana',
        attributes: { City: 'Haifa', ZIP: '02134' },
        tags: ['north', 'vip'],
        language: 'he',
        timeZone: 'Asia/Jerusalem',
        consent: { status: 'opted_in', source: 'web_form', at: '2026-11-30T08:17:17.432Z' },
      },
      {
        phone: '+972501234502',
        name: 'Omer Levi',
        attributes: { City: 'Eilat', ZIP: 88000 },
        timeZone: 'Asia/Jerusalem',
      },
    ]);
  });

  it('reads a consent column headed in Hebrew, Spanish, Portuguese or Arabic', async () => {
    for (const header of ['הסכמה', 'Consentimiento', 'consentimento', 'موافقة']) {
      const { contacts } = await read(Buffer.from(`טלפון;שם;${header}\n+972501110001;דנה;כן\n`));
      expect(contacts[0]?.consent).toEqual({ status: 'opted_in', source: 'import', at: AT });
    }
  });

  it("takes each row's phone from the first non-empty phone column (whatsapp before phone)", async () => {
    const { contacts, errors } = await read(
      Buffer.from('Phone,WhatsApp,Name\n+972501110001,,Dana\n+972501110002,+972501110003,Omer\n,,Noa\n'),
    );
    expect(contacts).toEqual([
      { phone: '+972501110001', name: 'Dana' },
      { phone: '+972501110003', name: 'Omer' },
    ]);
    expect(errors).toEqual([{ row: 3, line: 4, input: '', reason: 'missing_phone' }]);
  });

  it('joins first and last names when there is no name column', async () => {
    const { contacts } = await read(Buffer.from('mobile,First Name,Last Name\n+972501110001,Dana,Cohen\n'));
    expect(contacts[0]).toEqual({
      phone: '+972501110001',
      name: 'Dana Cohen',
      attributes: { First_Name: 'Dana', Last_Name: 'Cohen' },
    });
  });

  it('refuses a column whose name cannot be a template placeholder, naming it', async () => {
    const error = await fileError(Buffer.from('phone,#id\n+972501110001,7\n'));
    expect(error).toMatchObject({ code: 'invalid_column_name' });
    expect(error.message).toMatch(/'#id'/);
  });

  it("adds the import's tags and group to every contact", async () => {
    const { contacts } = await read(Buffer.from('phone,tags\n+972501110001,vip\n+972501110002,\n'), {
      tags: ['expo-2026'],
      groupId: 'grp_01JD7X1B2C3D4E5F6G7H8J9K0M',
    });
    expect(contacts).toEqual([
      { phone: '+972501110001', tags: ['vip', 'expo-2026'], groupIds: ['grp_01JD7X1B2C3D4E5F6G7H8J9K0M'] },
      { phone: '+972501110002', tags: ['expo-2026'], groupIds: ['grp_01JD7X1B2C3D4E5F6G7H8J9K0M'] },
    ]);
  });
});
