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
   * Takes the next row: blank rows are skipped, refused rows counted and (the first 100) listed,
   * duplicates counted, and a row with a new phone returned as the contact to write (its
   * created/updated count is the store's answer: `written`).
   */
  take(record: CsvRecord): { kind: RowKind; contact?: ContactUpsert } {
    if (isBlankRecord(record.fields)) return { kind: 'blank' };
    const outcome = rowToContact(record.fields, this.plan, this.context);
    if (!outcome.ok) {
      this.add({ processedRows: 1, invalidCount: 1 });
      if (this.errorList.length < MAX_ROW_ERRORS)
        this.errorList.push({ row: record.row, line: record.line, ...outcome.error });
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
   * A row `take` returned as a contact that the store then refused (contact_limit: merged with what
   * the contact already holds, it goes over a contact's limits): counted invalid instead, and listed.
   */
  refuse(record: Pick<CsvRecord, 'row' | 'line'>, input: string, reason: RowReason): void {
    this.add({ invalidCount: 1 });
    if (this.errorList.length < MAX_ROW_ERRORS)
      this.errorList.push({
        row: record.row,
        line: record.line,
        input: input.slice(0, MAX_INPUT_ECHO),
        reason,
      });
  }

  /** The store's answer for a batch of contacts this tally returned. */
  written(result: { created: number; updated: number }): void {
    this.add({ createdCount: result.created, updatedCount: result.updated });
  }

  get snapshot(): ImportCounts {
    return this.counts;
  }

  get errors(): readonly RowError[] {
    return this.errorList;
  }

  private add(delta: Partial<ImportCounts>): void {
    const c = this.counts;
    this.counts = {
      processedRows: c.processedRows + (delta.processedRows ?? 0),
      createdCount: c.createdCount + (delta.createdCount ?? 0),
      updatedCount: c.updatedCount + (delta.updatedCount ?? 0),
      duplicateCount: c.duplicateCount + (delta.duplicateCount ?? 0),
      invalidCount: c.invalidCount + (delta.invalidCount ?? 0),
    };
  }
}
