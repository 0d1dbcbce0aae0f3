import { type Options, stringify } from 'csv-stringify/sync';

/**
 * CSV exports of lists (a group's members, a broadcast's recipients): `?format=csv` or
 * `Accept: text/csv` on the list route.
 *
 * The file: UTF-8 with a byte order mark, a header row, RFC 4180 fields (CRLF between records; a
 * field with a comma, a quote, a CR or an LF is quoted, a quote doubled), written by csv-stringify.
 * - The BOM is what makes Excel read the file as UTF-8 (a Hebrew or Arabic name shows as written,
 *   not as mojibake): without it Excel on Windows reads a CSV in the machine's ANSI code page
 *   (Microsoft support, "Import or export text (.txt or .csv) files"; csv-stringify's `bom` option).
 * - Formula injection (OWASP "CSV Injection"; CWE-1236): a cell a spreadsheet would evaluate, one
 *   that starts with `=`, `+`, `-`, `@`, a tab or a CR (or their full-width forms), gets a leading
 *   `'` (csv-stringify's `escape_formulas`, which applies OWASP's advice; numbers stay as they
 *   are). So an E.164 phone is written `'+972501234567`: Excel shows it as text instead of turning
 *   it into 9.72501E+11, and the CSV import reads it back (phones.ts drops a leading `'`).
 * - csv-stringify quotes a field holding CR or LF only with `quote_record_delimiter: true` once a
 *   record delimiter is chosen (its default is then false): set here, or a name with a line break
 *   would split a record.
 *
 * Size: a Lambda function's synchronous response is at most 6 MB
 * (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), and API Gateway HTTP
 * APIs do not stream a Lambda's answer. The body travels inside the function's JSON answer, escaped
 * (a quote or a line break costs two bytes there, a control character six), so a part is cut when its
 * JSON-escaped size would pass MAX_CSV_BODY_BYTES, and at MAX_CSV_ROWS rows whatever their size. The
 * rest is the next part: the answer's `Link: <…&cursor=…>; rel="next"` header (RFC 8288) and
 * `X-Next-Cursor` name it; the last part has neither.
 */

/** A part's body, JSON-escaped as Lambda carries it: 5 MiB, leaving room for headers under 6 MB. */
export const MAX_CSV_BODY_BYTES = 5 * 1024 * 1024;
/**
 * Rows per part. Measured on the twin (README, "CSV exports"): a member row with a name, two tags,
 * consent and four attributes takes 188 bytes JSON-escaped, so 10,000 rows are 1.9 MB, read and
 * written in about 5 s; a recipient row with its timestamps is ~240. The byte bound only cuts the
 * parts of rows over ~520 bytes on average (many or long attributes).
 */
export const MAX_CSV_ROWS = 10_000;
export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

const CSV_OPTIONS: Options = {
  record_delimiter: 'windows',
  quote_record_delimiter: true,
  escape_formulas: true,
  cast: { boolean: (value) => (value ? 'true' : 'false') },
};

export type CsvCell = string | number | boolean | undefined;

export interface CsvColumn<T> {
  readonly header: string;
  readonly value: (row: T) => CsvCell;
}

/**
 * The CSV of `rows` under `columns`, cut before the row that would take the body past `maxBytes`
 * (JSON-escaped, see the module) or after `maxRows` rows; `written` says how many went in.
 */
export function writeCsv<T>(
  columns: readonly CsvColumn<T>[],
  rows: readonly T[],
  limits: { maxBytes?: number; maxRows?: number } = {},
): { body: string; written: number } {
  const maxBytes = limits.maxBytes ?? MAX_CSV_BODY_BYTES;
  const maxRows = limits.maxRows ?? MAX_CSV_ROWS;
  const parts = [
    stringify([], { ...CSV_OPTIONS, bom: true, header: true, columns: columns.map((c) => c.header) }),
  ];
  let bytes = escapedBytes(parts[0] as string);
  let written = 0;
  for (const row of rows) {
    if (written >= maxRows) break;
    const line = stringify([columns.map((c) => c.value(row))], CSV_OPTIONS);
    const size = escapedBytes(line);
    if (bytes + size > maxBytes) break;
    parts.push(line);
    bytes += size;
    written++;
  }
  return { body: parts.join(''), written };
}

/** Bytes `text` takes inside a JSON string (what Lambda's response payload carries). */
export function escapedBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text), 'utf8') - 2;
}

/**
 * Whether a list route answers in CSV: `?format=csv`, or (without `format`) an `Accept` header that
 * ranks `text/csv` above `application/json` (RFC 9110 §12.5.1 quality values; `*` ranges count for
 * JSON only, so `Accept: *\/*` stays JSON).
 */
export function wantsCsv(format: string | undefined, accept: string | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  if (!accept) return false;
  let csv = 0;
  let json = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q)) continue;
    if (type === 'text/csv') csv = Math.max(csv, q);
    else if (type === 'application/json' || type === 'application/*' || type === '*/*')
      json = Math.max(json, q);
  }
  return csv > 0 && csv >= json;
}

/** `Content-Disposition` of a download named `filename` (ASCII: ids and fixed words only). */
export function attachment(filename: string): string {
  return `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`;
}
