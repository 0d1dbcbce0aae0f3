import type { ContactUpsert } from './audience.ts';
import type { CsvRecord } from './csv-file.ts';
import { isBlankRecord } from './csv-file.ts';
import type { ColumnPlan } from './import-columns.ts';
import {
  MAX_INPUT_ECHO,
  type RowContext,
  type RowError,
  type RowReason,
  rowToContact,
} from './import-rows.ts';

/**
 * What an import has done with the rows it has read so far: which phones it has seen (a later row
 * with one of them is a duplicate: the first occurrence wins, as in a broadcast's list), the counts,
 * and the first row errors. Pure; the import worker feeds it records in file order.
 *
 * Every data row ends in exactly one count: `createdCount + updatedCount + duplicateCount +
 * invalidCount = processedRows` once its batch is written, and at the end `= totalRows`. Blank rows
 * are in none.
 */

/** How many row errors an import keeps (API.md: the first 100). */
export const MAX_ROW_ERRORS = 100;
/** Contacts per Contacts.upsertMany call: at most 100 distinct phones (audience.ts). */
export const BATCH_SIZE = 100;

export interface ImportCounts {
  /** Data rows handled (blank rows are not rows). */
  readonly processedRows: number;
  readonly createdCount: number;
  readonly updatedCount: number;
  readonly duplicateCount: number;
  readonly invalidCount: number;
}

export const ZERO_COUNTS: ImportCounts = {
  processedRows: 0,
  createdCount: 0,
  updatedCount: 0,
  duplicateCount: 0,
  invalidCount: 0,
};

export type RowKind = 'blank' | 'invalid' | 'duplicate' | 'contact';

export class ImportTally {
  private readonly seen = new Set<string>();
  private readonly plan: ColumnPlan;
  private readonly context: RowContext;
  private counts: ImportCounts;
  private readonly errorList: RowError[];

  constructor(
    plan: ColumnPlan,
    context: RowContext,
    start: { counts: ImportCounts; errors: readonly RowError[] } = { counts: ZERO_COUNTS, errors: [] },
  ) {
    this.plan = plan;
    this.context = context;
    this.counts = start.counts;
    this.errorList = [...start.errors];
  }

  /**
   * Takes the next row: blank rows are skipped, refused rows counted and listed, duplicates
   * counted, and a row with a new phone returned as the contact to write. Whether it was created
   * or updated is the store's answer, counted by whoever writes it (import-batches.ts).
   */
  take(record: CsvRecord): { kind: RowKind; contact?: ContactUpsert } {
    if (isBlankRecord(record.fields)) return { kind: 'blank' };
    const outcome = rowToContact(record.fields, this.plan, this.context);
    if (!outcome.ok) {
      this.add({ processedRows: 1, invalidCount: 1 });
      this.addError({ row: record.row, line: record.line, ...outcome.error });
      return { kind: 'invalid' };
    }
    if (this.seen.has(outcome.contact.phone)) {
      this.add({ processedRows: 1, duplicateCount: 1 });
      return { kind: 'duplicate' };
    }
    this.seen.add(outcome.contact.phone);
    this.add({ processedRows: 1 });
    return { kind: 'contact', contact: outcome.contact };
  }

  /**
   * Replays a row an earlier invocation already took (before its checkpoint): only its phone is
   * remembered, so that a later row with the same phone is still a duplicate. Counts and errors
   * come from the checkpoint.
   */
  replay(record: CsvRecord): void {
    if (isBlankRecord(record.fields)) return;
    const outcome = rowToContact(record.fields, this.plan, this.context);
    if (outcome.ok) this.seen.add(outcome.contact.phone);
  }

  /**
   * Lists a row error: the list keeps the MAX_ROW_ERRORS lowest rows, in row order, whatever the
   * order errors come in (a store's refusal comes when its batch is written, after later rows).
   */
  addError(error: RowError): void {
    const at = this.errorList.findIndex((e) => e.row > error.row);
    if (at === -1) this.errorList.push(error);
    else this.errorList.splice(at, 0, error);
    if (this.errorList.length > MAX_ROW_ERRORS) this.errorList.length = MAX_ROW_ERRORS;
  }

  /** The listed errors of rows up to `row` (what a checkpoint after that row holds). */
  errorsThrough(row: number): RowError[] {
    return this.errorList.filter((e) => e.row <= row);
  }

  /** Rows taken so far: processed, duplicates, invalid (created and updated are as they started). */
  get snapshot(): ImportCounts {
    return this.counts;
  }

  get errors(): readonly RowError[] {
    return this.errorList;
  }

  private add(delta: Partial<ImportCounts>): void {
    const c = this.counts;
    this.counts = {
      ...c,
      processedRows: c.processedRows + (delta.processedRows ?? 0),
      duplicateCount: c.duplicateCount + (delta.duplicateCount ?? 0),
      invalidCount: c.invalidCount + (delta.invalidCount ?? 0),
    };
  }
}

/** A row the store refused when its batch was written (contact_limit), as a row error. */
export function refusal(record: Pick<CsvRecord, 'row' | 'line'>, input: string, reason: RowReason): RowError {
  return { row: record.row, line: record.line, input: input.slice(0, MAX_INPUT_ECHO), reason };
}
