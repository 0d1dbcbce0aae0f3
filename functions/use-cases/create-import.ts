import { createHash } from 'node:crypto';
import type { Groups } from '../core/audience.ts';
import { HEADER_PROBE_BYTES, ImportFileError, MAX_IMPORT_FILE_BYTES, readHeader } from '../core/csv-file.ts';
import { ApiError } from '../core/errors.ts';
import { canonicalJson, explicitIdempotencyKey } from '../core/idempotency.ts';
import { planColumns } from '../core/import-columns.ts';
import { ZERO_COUNTS } from '../core/import-tally.ts';
import {
  type ImportFileWriter,
  type ImportIdempotency,
  type ImportJob,
  type ImportOptions,
  type ImportStore,
  importKey,
  newImportId,
  UPLOAD_URL_SECONDS,
  uploadKey,
} from '../core/imports.ts';

/**
 * POST /v1/contacts/imports: checks everything a request can be refused for, then creates the import
 * and writes its file at the import's key, whose S3 event starts the worker. A refused request
 * writes nothing; if the file cannot be stored, what was written is undone.
 *
 * Checked before anything is written: the Idempotency-Key (the same key and request → the same
 * import), the group (404), the upload (404 unknown or another tenant's, 409 already imported or
 * nothing uploaded yet, 413 over 100 MiB), and the file's start: a workbook, UTF-16 or another
 * encoding, no phone column, a column that cannot be an attribute. The rest of the file (every row)
 * is the worker's, which checks it whole before it writes a contact.
 *
 * Idempotency: with an Idempotency-Key, repeating the request answers the same import for 24 hours
 * (`idempotent: true`), and the key with another request is 409 IDEMPOTENCY_CONFLICT. Without one, a
 * repeated CSV body is a second import of the same rows (it updates the contacts the first one made:
 * the result is the same, the counts say `updated`); an upload can be imported once (409 after).
 */

export type ImportSource = { kind: 'body'; bytes: Uint8Array } | { kind: 'upload'; uploadId: string };

export interface CreateImportDeps {
  readonly store: ImportStore;
  readonly files: ImportFileWriter;
  readonly groups: Pick<Groups, 'get'>;
  readonly now: () => Date;
  readonly log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export async function createImport(
  deps: CreateImportDeps,
  tenantId: string,
  source: ImportSource,
  options: ImportOptions,
  idempotencyHeader?: string,
): Promise<{ job: ImportJob; idempotent: boolean }> {
  const now = deps.now();
  const idempotency: ImportIdempotency | undefined = idempotencyHeader
    ? {
        key: explicitIdempotencyKey(tenantId, idempotencyHeader),
        fingerprint: fingerprintOf(source, options),
      }
    : undefined;
  if (idempotency) {
    const earlier = await deps.store.idempotency(tenantId, idempotency.key, now);
    if (earlier) return answerIdempotent(deps, tenantId, idempotency, earlier);
  }
  if (options.groupId && !(await deps.groups.get(tenantId, options.groupId)))
    throw new ApiError('NOT_FOUND', `No group ${options.groupId}.`, [
      { path: 'groupId', message: 'no group with this id (create it with POST /v1/groups)' },
    ]);
  if (source.kind === 'body') checkStart(source.bytes, source.bytes.length);
  else await checkUpload(deps, tenantId, source.uploadId);

  const job: ImportJob = {
    tenantId,
    importId: newImportId(now.getTime()),
    status: 'running',
    phase: 'waiting',
    source: source.kind,
    ...(source.kind === 'upload' ? { uploadId: source.uploadId } : {}),
    options,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    counts: ZERO_COUNTS,
    errors: [],
    invocations: 0,
  };
  const links = {
    ...(source.kind === 'upload' ? { upload: { uploadId: source.uploadId } } : {}),
    ...(idempotency ? { idempotency } : {}),
  };
  const created = await deps.store.create(job, { ...links, now });
  if (!created.created) {
    if ('idempotent' in created && idempotency)
      return answerIdempotent(deps, tenantId, idempotency, created.idempotent);
    if ('uploadUsedBy' in created) throw uploadUsed(source, created.uploadUsedBy);
    throw new Error('import not created');
  }
  const key = importKey(tenantId, job.importId);
  try {
    if (source.kind === 'body') await deps.files.put(key, source.bytes);
    else await deps.files.copy(uploadKey(tenantId, source.uploadId), key);
  } catch (error) {
    // Nothing may be left behind a refused request: the import, its key, the upload's mark.
    await deps.store.discard(job, links).catch((undo: unknown) =>
      deps.log('error', 'could not undo an import whose file was not stored', {
        importId: job.importId,
        error: (undo as Error).message,
      }),
    );
    throw error;
  }
  if (source.kind === 'upload')
    // The import has its own copy; the upload's is not needed any more (the lifecycle rule is the backstop).
    await deps.files.delete(uploadKey(tenantId, source.uploadId)).catch(() => {});
  deps.log('info', 'import created', { importId: job.importId, source: source.kind });
  return { job, idempotent: false };
}

async function answerIdempotent(
  deps: CreateImportDeps,
  tenantId: string,
  idempotency: ImportIdempotency,
  earlier: { importId: string; fingerprint: string },
): Promise<{ job: ImportJob; idempotent: boolean }> {
  if (earlier.fingerprint !== idempotency.fingerprint)
    throw new ApiError(
      'IDEMPOTENCY_CONFLICT',
      'This Idempotency-Key was already used with a different import request; use a new key for a new import.',
      [
        {
          path: 'Idempotency-Key',
          message: `already used for import ${earlier.importId}, with another file or options`,
          importId: earlier.importId,
        },
      ],
    );
  const job = await deps.store.get(tenantId, earlier.importId);
  if (!job) throw new Error(`import ${earlier.importId} of an Idempotency-Key is gone`);
  return { job, idempotent: true };
}

/** What makes two import requests the same: the file (its bytes' hash, or the upload) and the options. */
function fingerprintOf(source: ImportSource, options: ImportOptions): string {
  const file =
    source.kind === 'body'
      ? { sha256: createHash('sha256').update(source.bytes).digest('hex') }
      : { uploadId: source.uploadId };
  return createHash('sha256')
    .update(canonicalJson({ v: 1, file, options: { ...options, tags: [...options.tags].sort() } }))
    .digest('hex');
}

async function checkUpload(deps: CreateImportDeps, tenantId: string, uploadId: string): Promise<void> {
  const upload = await deps.store.getUpload(tenantId, uploadId);
  if (!upload)
    throw new ApiError('NOT_FOUND', `No upload ${uploadId}.`, [
      { path: 'uploadId', message: 'no upload with this id (make one with POST /v1/uploads)' },
    ]);
  if (upload.importId) throw uploadUsed({ kind: 'upload', uploadId }, upload.importId);
  const head = await deps.files.head(uploadKey(tenantId, uploadId));
  if (!head)
    throw new ApiError(
      'INVALID_STATE',
      `Nothing was uploaded for ${uploadId} yet: PUT the file to its url first (it works for ${UPLOAD_URL_SECONDS / 60} minutes after POST /v1/uploads; then ask for a new upload).`,
      [
        {
          path: 'uploadId',
          message: 'no file uploaded',
          status: 'not_uploaded',
          urlExpiresAt: upload.expiresAt,
        },
      ],
    );
  if (head.bytes > MAX_IMPORT_FILE_BYTES)
    throw new ApiError(
      'PAYLOAD_TOO_LARGE',
      `The uploaded file is ${head.bytes} bytes; an import reads at most ${MAX_IMPORT_FILE_BYTES} bytes (100 MiB). Split it.`,
      [
        {
          path: 'uploadId',
          message: 'file over 100 MiB',
          bytes: head.bytes,
          maxBytes: MAX_IMPORT_FILE_BYTES,
        },
      ],
    );
  const start = await deps.files.readStart(
    uploadKey(tenantId, uploadId),
    Math.min(head.bytes, HEADER_PROBE_BYTES),
  );
  checkStart(start, head.bytes);
}

/**
 * The file's start (or all of it) judged before the import is created: 400 VALIDATION_FAILED at
 * `path: ''` (the body) with the problem's `reason` and `line`.
 */
function checkStart(start: Uint8Array, fileBytes: number): void {
  try {
    planColumns(readHeader(start.subarray(0, HEADER_PROBE_BYTES), fileBytes <= HEADER_PROBE_BYTES).fields);
  } catch (error) {
    if (!(error instanceof ImportFileError)) throw error;
    throw new ApiError('VALIDATION_FAILED', `The file cannot be imported: ${error.message}`, [
      { path: '', message: error.message, reason: error.code, ...(error.line ? { line: error.line } : {}) },
    ]);
  }
}

function uploadUsed(source: ImportSource, importId: string): ApiError {
  const uploadId = source.kind === 'upload' ? source.uploadId : '';
  return new ApiError(
    'INVALID_STATE',
    `Upload ${uploadId} was imported already, as ${importId}; upload the file again for a new import.`,
    [{ path: 'uploadId', message: `already imported as ${importId}`, status: 'imported', importId }],
  );
}
