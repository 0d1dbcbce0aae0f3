import { isUtf8 } from 'node:buffer';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { CsvError, parse } from 'csv-parse';

/**
 * Reading a contacts CSV file as a stream of records, with the byte offset after each one (a record
 * boundary an import can resume from with an S3 ranged read), and every way a file can fail to be a
 * CSV named in words a person can act on. Pure: bytes in, records out; no AWS.
 *
 * The file (RFC 4180, as spreadsheets write it): UTF-8 with or without a byte order mark; fields
 * separated by `,`, `;` (spreadsheets in comma-decimal locales) or a tab, whichever the header line
 * uses most outside quotes; fields quoted with `"` may hold the separator, `""` and line breaks;
 * records end with CRLF, LF or CR. csv-parse does the parsing.
 *
 * Why the delimiter is found here and not by csv-parse: its `delimiter` option takes a list, but then
 * every listed character separates fields (a `;` file with `Cohen, Dana` in a name would split it);
 * and its `delimiter_auto` (7.x) parses the first 2 KB without a delimiter, which throws
 * CSV_INVALID_CLOSING_QUOTE on the first quoted field followed by a separator (`"name";"phone"`).
 */

/** Largest file an import reads: 100 MiB (≈1.5 million rows of phone, name and a few attributes). */
export const MAX_IMPORT_FILE_BYTES = 100 * 1024 * 1024;
/** Most data rows in one import (blank rows not counted). */
export const MAX_IMPORT_ROWS = 1_000_000;
/** Longest record, in characters: a safeguard against a file that is not CSV (one endless line). */
export const MAX_RECORD_CHARS = 64 * 1024;
/** How much of a file's start is enough to judge its header (with `MAX_RECORD_CHARS` of room). */
export const HEADER_PROBE_BYTES = 256 * 1024;

export type Delimiter = ',' | ';' | '\t';

/** Why a file cannot be imported at all (as opposed to one of its rows). */
export const FILE_PROBLEMS = [
  'empty_file',
  'spreadsheet_file',
  'utf16',
  'not_text',
  'not_utf8',
  'malformed_csv',
  'record_too_long',
  'too_many_rows',
  'file_too_large',
  'no_header',
  'no_phone_column',
  'duplicate_column',
  'too_many_columns',
  'invalid_column_name',
  'file_changed',
] as const;
export type FileProblem = (typeof FILE_PROBLEMS)[number];

/** A file that cannot be imported: `code` is stable, `message` says what to do, `line` where (1 = header). */
export class ImportFileError extends Error {
  readonly code: FileProblem;
  readonly line?: number;
  constructor(code: FileProblem, message: string, line?: number) {
    super(message);
    this.name = 'ImportFileError';
    this.code = code;
    if (line !== undefined) this.line = line;
  }
}

const SAVE_AS_CSV =
  "In Excel: File › Save As › 'CSV UTF-8 (Comma delimited)'; in Google Sheets: File › Download › CSV.";

/**
 * Refuses, from its first bytes, a file that is not UTF-8 text: a workbook (.xlsx and .ods are ZIP
 * archives, `PK\3\4`; .xls is an OLE2 compound file, `D0 CF 11 E0`), UTF-16 text (Excel's "Unicode
 * Text" starts with the byte order mark `FF FE`), or binary data (a NUL byte). Throws ImportFileError.
 */
export function sniffFile(head: Uint8Array): void {
  if (head.length === 0) throw new ImportFileError('empty_file', 'The file is empty.');
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1))
    throw new ImportFileError(
      'spreadsheet_file',
      `This is a spreadsheet workbook (.xlsx, .xls or .ods), not a CSV file. ${SAVE_AS_CSV}`,
    );
  if (starts(0xff, 0xfe) || starts(0xfe, 0xff))
    throw new ImportFileError('utf16', `The file is UTF-16 text ("Unicode Text"), not UTF-8. ${SAVE_AS_CSV}`);
  if (head.subarray(0, 8192).includes(0))
    throw new ImportFileError('not_text', 'The file is not text (it holds NUL bytes): upload a CSV file.');
}

/**
 * The field delimiter of a header line: `,`, `;` or tab, whichever occurs most outside double
 * quotes; `,` when none does (a one-column file) or on a tie.
 */
export function detectDelimiter(headerLine: string): Delimiter {
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of headerLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t')) counts[ch]++;
  }
  let best: Delimiter = ',';
  for (const d of [';', '\t'] as const) if (counts[d] > counts[best]) best = d;
  return best;
}

/**
 * The header of a file from its first bytes (at least the whole first record, or the whole file):
 * its fields, its delimiter, and the byte offset where the data rows start (after the header's line
 * break, a byte order mark included). Throws ImportFileError for a file that is not UTF-8 CSV.
 */
export function readHeader(head: Uint8Array, isWholeFile: boolean): HeaderInfo {
  sniffFile(head);
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const end = headerEnd(bytes, bom);
  if (end === undefined && !isWholeFile)
    throw new ImportFileError(
      'record_too_long',
      `The header line is longer than ${MAX_RECORD_CHARS} characters (or has an unclosed quote): this does not look like a CSV file.`,
      1,
    );
  const headerBytes = bytes.subarray(0, end ?? bytes.length);
  // A header cut in the middle of a multi-byte character is judged on whole characters only.
  if (!isUtf8(headerBytes)) throw new ImportFileError('not_utf8', notUtf8Message(1), 1);
  const text = headerBytes.subarray(bom).toString('utf8');
  const delimiter = detectDelimiter(text.split(/\r\n|\n|\r/, 1)[0] ?? '');
  let fields: string[];
  try {
    const records = parseSync(text, delimiter);
    fields = records[0] ?? [];
  } catch (error) {
    throw fileErrorOf(error, 1);
  }
  if (fields.every((f) => f.trim() === ''))
    throw new ImportFileError(
      'no_header',
      'The first line is empty: it must name the columns (phone, name, …).',
      1,
    );
  const dataOffset = end ?? bytes.length;
  return { fields, delimiter, dataOffset, dataLine: 1 + countLineBreaks(bytes.subarray(0, dataOffset)) };
}

export interface HeaderInfo {
  /** The header's fields as written (untrimmed). */
  readonly fields: string[];
  readonly delimiter: Delimiter;
  /** Byte offset of the first data row (the header's line break and a BOM counted). */
  readonly dataOffset: number;
  /** The file line the first data row starts on (2, unless a header field holds a line break). */
  readonly dataLine: number;
}

/** Byte offset just past the first record's line break, outside quotes; undefined when none is in `bytes`. */
function headerEnd(bytes: Buffer, from: number): number | undefined {
  let quoted = false;
  const limit = Math.min(bytes.length, from + MAX_RECORD_CHARS * 4);
  for (let i = from; i < limit; i++) {
    const b = bytes[i];
    if (b === 0x22) quoted = !quoted;
    else if (!quoted && b === 0x0a) return i + 1;
    else if (!quoted && b === 0x0d) return bytes[i + 1] === 0x0a ? i + 2 : i + 1;
  }
  return undefined;
}

function parseSync(text: string, delimiter: Delimiter): string[][] {
  const records: string[][] = [];
  const parser = parse({ ...parserOptions(delimiter, false) });
  parser.on('data', (r: string[]) => records.push(r));
  let failure: unknown;
  parser.on('error', (e) => {
    failure = e;
  });
  parser.write(text);
  parser.end();
  if (failure) throw failure;
  return records;
}

function parserOptions(delimiter: Delimiter, bom: boolean) {
  return {
    delimiter,
    bom,
    quote: '"',
    escape: '"',
    // Each record as an array: rows with a different count of fields become row errors, not a crash.
    relax_column_count: true,
    // Blank lines are kept (as one empty field) so that row numbers match the spreadsheet's rows.
    skip_empty_lines: false,
    max_record_size: MAX_RECORD_CHARS,
  } as const;
}

/** One data record: its fields, where it is, and the byte offset just past it (a resume point). */
export interface CsvRecord {
  readonly fields: string[];
  /** 1 = the first data row; blank rows take a number too, so `row + 1` is the spreadsheet row. */
  readonly row: number;
  /** The file line the record starts on (1 = the header). */
  readonly line: number;
  /** The file line the next record starts on. */
  readonly nextLine: number;
  /** Byte offset in the file just after this record (its line break included). */
  readonly endOffset: number;
}

export interface ReadPosition {
  /** Byte offset in the file where `source` starts: a record boundary. */
  readonly offset: number;
  /** The row number of the last record before `offset` (0 at the first data row). */
  readonly row: number;
  /** The file line of the first record at `offset`. */
  readonly line: number;
}

/**
 * The data records of a file read from a record boundary (`at`: after the header, or a checkpoint),
 * streamed: memory stays bounded by one record whatever the file's size. `source` yields the file's
 * bytes from `at.offset`. Throws ImportFileError (with the line) when the bytes stop being UTF-8 or
 * CSV: an unclosed quote, a quote inside an unquoted field, a record over MAX_RECORD_CHARS.
 */
export async function* readRecords(
  source: AsyncIterable<Uint8Array> | Readable,
  delimiter: Delimiter,
  at: ReadPosition,
): AsyncGenerator<CsvRecord> {
  const utf8 = new Utf8Check(at.line);
  const parser = parse({ ...parserOptions(delimiter, at.offset === 0), info: true });
  const input = source instanceof Readable ? source : Readable.from(source, { objectMode: false });
  input.on('error', (e) => parser.destroy(e));
  utf8.on('error', (e) => parser.destroy(e));
  input.pipe(utf8).pipe(parser);
  let row = at.row;
  // A record starts on the line after the previous one's last line: one line, plus the line breaks
  // inside its quoted fields (csv-parse's own count takes a CRLF inside quotes for two lines).
  let line = at.line;
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: { bytes: number };
    }>) {
      row++;
      const nextLine = line + 1 + record.reduce((n, field) => n + lineBreaksIn(field), 0);
      yield { fields: record, row, line, nextLine, endOffset: at.offset + info.bytes };
      line = nextLine;
    }
  } catch (error) {
    throw fileErrorOf(error, line, at.line - 1);
  } finally {
    input.unpipe();
    input.destroy();
  }
}

/** Whether every field of a record is empty or spaces: a blank row, skipped and not counted. */
export function isBlankRecord(fields: readonly string[]): boolean {
  return fields.every((f) => f.trim() === '');
}

/**
 * A parser or decoding error as an ImportFileError naming the file line (csv-parse counts lines from
 * where it started reading: `lineBase` lines earlier in the file); anything else as it is.
 */
function fileErrorOf(error: unknown, line: number, lineBase = 0): unknown {
  if (error instanceof ImportFileError) return error;
  if (!(error instanceof CsvError)) return error;
  const counted = (error as CsvError & { lines?: number }).lines;
  const at = counted !== undefined ? lineBase + counted : line;
  switch (error.code) {
    case 'CSV_MAX_RECORD_SIZE':
      return new ImportFileError(
        'record_too_long',
        `Line ${at} is longer than ${MAX_RECORD_CHARS} characters: check the file's quotes (an unclosed " makes the rest of the file one field).`,
        at,
      );
    case 'CSV_QUOTE_NOT_CLOSED':
      return new ImportFileError(
        'malformed_csv',
        `A quoted field that starts on or before line ${at} is never closed: every " that opens a field needs a closing ".`,
        at,
      );
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'INVALID_OPENING_QUOTE':
      return new ImportFileError(
        'malformed_csv',
        `Line ${at} has a misplaced ": inside a field, quote the whole field and double the inner quotes ("Dana ""D"" Cohen").`,
        at,
      );
    default:
      return new ImportFileError('malformed_csv', `Line ${at} is not valid CSV: ${error.message}`, at);
  }
}

function notUtf8Message(line: number): string {
  return `Line ${line} is not UTF-8 text (the file was probably saved in a Windows code page, such as Windows-1255 or Windows-1252). ${SAVE_AS_CSV}`;
}

/**
 * Passes bytes through unchanged and fails on the first byte sequence that is not UTF-8, naming its
 * line. A character split between two chunks is carried over to the next (at most 3 bytes).
 */
class Utf8Check extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  private line: number;
  constructor(firstLine: number) {
    super();
    this.line = firstLine;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const whole = bytes.length - incompleteTail(bytes);
    const body = bytes.subarray(0, whole);
    if (!isUtf8(body)) {
      const line = this.lineOf(body);
      done(new ImportFileError('not_utf8', notUtf8Message(line), line));
      return;
    }
    this.line += countLineBreaks(body);
    this.carry = Buffer.from(bytes.subarray(whole));
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    if (this.carry.length > 0) done(new ImportFileError('not_utf8', notUtf8Message(this.line), this.line));
    else done();
  }
  /** The line of the first invalid byte in `bytes` (binary search on the longest valid prefix). */
  private lineOf(bytes: Buffer): number {
    let lo = 0;
    let hi = bytes.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (isUtf8(bytes.subarray(0, mid - incompleteTail(bytes.subarray(0, mid))))) lo = mid;
      else hi = mid - 1;
    }
    return this.line + countLineBreaks(bytes.subarray(0, lo));
  }
}

/** How many bytes at the end of `bytes` start a UTF-8 character that is not complete yet (0–3). */
function incompleteTail(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/** Line breaks in a field's text (CRLF, LF or CR). */
function lineBreaksIn(text: string): number {
  if (!text.includes('\n') && !text.includes('\r')) return 0;
  return text.match(/\r\n|\n|\r/g)?.length ?? 0;
}

/** Line breaks in `bytes` (LF, and CR not followed by LF). */
function countLineBreaks(bytes: Buffer): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) n++;
    else if (bytes[i] === 0x0d && bytes[i + 1] !== 0x0a) n++;
  }
  return n;
}
