import { randomUUID } from 'node:crypto';
import { type Contacts, GroupNotFoundError, type Groups } from '../core/audience.ts';
import { ContactLimitError } from '../core/contact-rules.ts';
import {
  type CsvRecord,
  HEADER_PROBE_BYTES,
  ImportFileError,
  isBlankRecord,
  MAX_IMPORT_FILE_BYTES,
  MAX_IMPORT_ROWS,
  readHeader,
  readRecords,
} from '../core/csv-file.ts';
import { planColumns } from '../core/import-columns.ts';
import type { RowError } from '../core/import-rows.ts';
import { BATCH_SIZE, ImportTally, refusal } from '../core/import-tally.ts';
import {
  FileChangedError,
  type ImportCheckpoint,
  type ImportFailure,
  type ImportFileInfo,
  type ImportFiles,
  type ImportJob,
  type ImportLease,
  ImportLeaseLostError,
  type ImportQueue,
  type ImportStore,
  importKey,
} from '../core/imports.ts';
import { LEASE_MARGIN_MS } from '../core/recovery.ts';
import {
  type BatchOutcome,
  BatchWriter,
  IMPORT_WRITE_CONCURRENCY,
  type SealedBatch,
} from './import-batches.ts';

/**
 * The import worker: one invocation's share of one import. Started by the S3 event of the import's
 * file, or by the continuation an earlier invocation left; both run this.
 *
 * 1. Claim: a conditional write takes the import's lease, so a redelivered start event, or a
 *    continuation racing a retry, never runs the import twice; a dead holder's lease runs out
 *    (its invocation's deadline plus a margin), and its message, back after the queue's visibility
 *    timeout, resumes the import.
 * 2. Check the whole file before writing anything (phase `checking`): encoding, CSV structure, the
 *    header, the row count. A file that fails is `failed` with nothing imported.
 * 3. Import in batches of up to 100 distinct phones (Contacts.upsertMany, idempotent, group counts
 *    in its own transactions), a few at once, each followed, in file order, by a checkpoint: the byte
 *    offset after the batch's last record, its row, the counts (import-batches.ts). A crash
 *    re-applies at most the batches in flight.
 * 4. Before the invocation's deadline (Lambda stops it at its timeout, at most 15 minutes: Lambda
 *    developer guide, "Configure Lambda function timeout"), give the lease up and leave a
 *    continuation on the queue; the next invocation reads the file again from its first data row:
 *    the rows before the checkpoint only rebuild the set of phones seen (a later duplicate is
 *    still one), the rest are imported. Its result is the one pass's.
 *
 * Resuming re-reads the part already done, instead of keeping the phones seen somewhere: parsing and
 * phone normalization run at about 58,000 rows/s (measured: 100,000 rows in 1.7 s), so the largest
 * file (MAX_IMPORT_ROWS) replays in under 20 s, far inside an invocation, and the checkpoint stays
 * three numbers and the counts.
 */

/** Rows handled without a checkpoint at most, even when they hold no contact to write. */
export const CHECKPOINT_ROWS = 1000;
/** Time kept in hand at the end of an invocation to write the last batch and hand over. */
export const HANDOVER_MARGIN_MS = 60_000;

export interface ImportWorkerDeps {
  readonly store: ImportStore;
  readonly files: ImportFiles;
  /** Throws GroupNotFoundError or ContactLimitError before writing anything of a batch (dynamo-contact-writes.ts). */
  readonly contacts: Pick<Contacts, 'upsertMany'>;
  readonly groups: Pick<Groups, 'get'>;
  readonly queue: ImportQueue;
  readonly now: () => Date;
  /** Milliseconds left in this invocation (Lambda's context.getRemainingTimeInMillis). */
  readonly remainingMs: () => number;
  readonly log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Hand over when fewer milliseconds than this are left (default HANDOVER_MARGIN_MS). */
  readonly handoverMarginMs?: number;
  /** Batches written at once (default IMPORT_WRITE_CONCURRENCY). */
  readonly writeConcurrency?: number;
}

export type ImportRunOutcome = 'completed' | 'failed' | 'handed_over' | 'not_claimed';

class GroupDeletedError extends Error {}

/**
 * Runs this invocation's share of an import. `lastAttempt`: the queue will not deliver this
 * message again, so an unexpected error fails the import instead of leaving it running.
 * Throws (for the queue to redeliver) on errors a retry may cure.
 */
export async function runImport(
  deps: ImportWorkerDeps,
  tenantId: string,
  importId: string,
  options: { lastAttempt?: boolean } = {},
): Promise<ImportRunOutcome> {
  const claimedAt = deps.now();
  const lease: ImportLease = {
    token: randomUUID(),
    until: new Date(claimedAt.getTime() + deps.remainingMs() + LEASE_MARGIN_MS),
  };
  const claimed = await deps.store.claim(tenantId, importId, lease, claimedAt);
  if (!claimed) return 'not_claimed';
  const fail = async (failure: ImportFailure) => {
    await deps.store.finish(claimed, lease, { status: 'failed', failure }, deps.now());
    deps.log('warn', 'import failed', { importId, code: failure.code, ...claimed.counts });
    return 'failed' as const;
  };
  try {
    const groupId = claimed.options.groupId;
    if (groupId && !(await deps.groups.get(tenantId, groupId))) throw new GroupDeletedError();
    let job = claimed;
    if (job.phase !== 'importing' || !job.file) {
      const checked = await checkFile(deps.files, job);
      await deps.store.fileChecked(job, lease, checked.file, checked.totalRows, deps.now());
      job = {
        ...job,
        phase: 'importing',
        file: checked.file,
        totalRows: checked.totalRows,
        checkpoint: { offset: checked.file.dataOffset, row: 0, line: checked.file.dataLine },
      };
    }
    return await importRows(deps, job, lease);
  } catch (error) {
    if (error instanceof ImportLeaseLostError) {
      deps.log('warn', 'another invocation took the import over', { importId });
      return 'not_claimed';
    }
    if (error instanceof ImportFileError)
      return fail({ code: error.code, message: error.message, ...(error.line ? { line: error.line } : {}) });
    if (error instanceof FileChangedError)
      return fail({
        code: 'file_changed',
        message: 'The import file changed while it was being imported; start a new import.',
      });
    if (error instanceof GroupDeletedError)
      return fail({
        code: 'group_deleted',
        message: `The group ${claimed.options.groupId} was deleted during the import; the rows before it were imported.`,
      });
    if (options.lastAttempt) {
      deps.log('error', 'import failed on its last attempt', { importId, error: (error as Error).message });
      return fail({
        code: 'internal',
        message:
          'An unexpected error stopped the import after several attempts; the rows before it were imported. Import the file again (its rows update the same contacts).',
      });
    }
    // Let the queue deliver it again; the next claim need not wait for this lease to run out.
    await deps.store.release(claimed, lease).catch(() => {});
    throw error;
  }
}

/**
 * Reads the whole file once, writing nothing: size, encoding, header, CSV structure, row count.
 * Throws ImportFileError for the first problem, with its line.
 */
export async function checkFile(
  files: ImportFiles,
  job: Pick<ImportJob, 'tenantId' | 'importId'>,
): Promise<{ file: ImportFileInfo; totalRows: number }> {
  const key = importKey(job.tenantId, job.importId);
  const head = await files.head(key);
  if (!head) throw new Error(`the import file ${key} is not in the bucket`);
  if (head.bytes > MAX_IMPORT_FILE_BYTES)
    throw new ImportFileError(
      'file_too_large',
      `The file is ${head.bytes} bytes; an import reads at most ${MAX_IMPORT_FILE_BYTES} bytes (100 MiB). Split it.`,
    );
  const probe = await collect(
    await files.read(key, { start: 0, end: Math.min(head.bytes, HEADER_PROBE_BYTES), etag: head.etag }),
  );
  const header = readHeader(probe, head.bytes <= HEADER_PROBE_BYTES);
  planColumns(header.fields);
  let totalRows = 0;
  const stream = await files.read(key, { start: header.dataOffset, etag: head.etag });
  for await (const record of readRecords(stream, header.delimiter, {
    offset: header.dataOffset,
    row: 0,
    line: header.dataLine,
  })) {
    if (isBlankRecord(record.fields)) continue;
    if (++totalRows > MAX_IMPORT_ROWS)
      throw new ImportFileError(
        'too_many_rows',
        `The file has more than ${MAX_IMPORT_ROWS} rows; split it into several imports.`,
        record.line,
      );
  }
  return {
    file: {
      bytes: head.bytes,
      etag: head.etag,
      delimiter: header.delimiter,
      header: header.fields,
      dataOffset: header.dataOffset,
      dataLine: header.dataLine,
    },
    totalRows,
  };
}

async function importRows(
  deps: ImportWorkerDeps,
  job: ImportJob,
  lease: ImportLease,
): Promise<ImportRunOutcome> {
  const file = job.file as ImportFileInfo;
  const start = job.checkpoint ?? { offset: file.dataOffset, row: 0, line: file.dataLine };
  const tally = new ImportTally(
    planColumns(file.header),
    {
      tags: job.options.tags,
      at: job.createdAt,
      delimiter: file.delimiter,
      ...(job.options.defaultCountry ? { defaultCountry: job.options.defaultCountry } : {}),
      ...(job.options.groupId ? { groupId: job.options.groupId } : {}),
    },
    { counts: job.counts, errors: job.errors },
  );
  const margin = deps.handoverMarginMs ?? HANDOVER_MARGIN_MS;
  let committed = job.counts;
  let errorsSaved = job.errors;
  const writer = new BatchWriter({
    concurrency: deps.writeConcurrency ?? IMPORT_WRITE_CONCURRENCY,
    start: job.counts,
    write: (batch) => writeBatch(deps, job, batch),
    commit: async ({ last, counts }, refused) => {
      for (const error of refused) tally.addError(error);
      const errors = tally.errorsThrough(last.row);
      const changed = errors.length !== errorsSaved.length || errors.some((e, i) => e !== errorsSaved[i]);
      const checkpoint: ImportCheckpoint = { offset: last.endOffset, row: last.row, line: last.nextLine };
      await deps.store.checkpoint(
        job,
        lease,
        { checkpoint, counts, ...(changed ? { errors } : {}) },
        deps.now(),
      );
      committed = counts;
      errorsSaved = errors;
    },
  });

  let batch: SealedBatch['items'][number][] = [];
  let rowsInBatch = 0;
  const seal = async (last: CsvRecord) => {
    const sealed: SealedBatch = { items: batch, last, taken: tally.snapshot };
    batch = [];
    rowsInBatch = 0;
    await writer.add(sealed);
  };

  let last: CsvRecord | undefined;
  try {
    const stream = await deps.files.read(importKey(job.tenantId, job.importId), {
      start: file.dataOffset,
      etag: file.etag,
    });
    for await (const record of readRecords(stream, file.delimiter, {
      offset: file.dataOffset,
      row: 0,
      line: file.dataLine,
    })) {
      if (record.row <= start.row) {
        tally.replay(record);
        if (record.row === start.row && record.endOffset !== start.offset)
          throw new FileChangedError(importKey(job.tenantId, job.importId));
        continue;
      }
      const taken = tally.take(record);
      last = record;
      rowsInBatch++;
      if (taken.contact) batch.push({ contact: taken.contact, record });
      if (batch.length < BATCH_SIZE && rowsInBatch < CHECKPOINT_ROWS) continue;
      await seal(record);
      if (deps.remainingMs() < margin) {
        await writer.drain();
        await deps.store.release(job, lease);
        await deps.queue.continueImport(job.tenantId, job.importId);
        deps.log('info', 'import handed over to a new invocation', { importId: job.importId, ...committed });
        return 'handed_over';
      }
    }
    if (last && rowsInBatch > 0) await seal(last);
  } catch (error) {
    // Whatever is in flight lands and is committed in order before the error goes up.
    await writer.drain().catch(() => {});
    throw error;
  }
  await writer.drain();
  await deps.store.finish(job, lease, { status: 'completed' }, deps.now());
  deps.log('info', 'import completed', { importId: job.importId, ...committed });
  return 'completed';
}

/**
 * Writes one batch: the store refuses a contact that would go over its limits (ContactLimitError)
 * before it writes anything of the batch, so that row becomes an error and the rest is written
 * without it; a group deleted meanwhile (GroupNotFoundError) ends the import.
 */
async function writeBatch(deps: ImportWorkerDeps, job: ImportJob, batch: SealedBatch): Promise<BatchOutcome> {
  let items = [...batch.items];
  const refused: RowError[] = [];
  while (items.length > 0) {
    try {
      const written = await deps.contacts.upsertMany(
        job.tenantId,
        items.map((i) => i.contact),
        deps.now(),
      );
      return { ...written, refused };
    } catch (error) {
      if (error instanceof GroupNotFoundError) throw new GroupDeletedError();
      const phone = error instanceof ContactLimitError ? error.phone : undefined;
      const over = phone !== undefined ? items.find((i) => i.contact.phone === phone) : undefined;
      if (!over) throw error;
      refused.push(refusal(over.record, over.contact.phone, 'contact_limit'));
      items = items.filter((i) => i !== over);
    }
  }
  return { created: 0, updated: 0, refused };
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
