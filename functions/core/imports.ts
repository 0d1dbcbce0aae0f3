import { ulid } from 'ulid';
import type { Page } from './audience.ts';
import type { Delimiter, FileProblem } from './csv-file.ts';
import type { RowError } from './import-rows.ts';
import type { ImportCounts } from './import-tally.ts';

/**
 * Contact imports and the uploads that carry big files (API.md "Contacts": POST /v1/uploads,
 * POST /v1/contacts/imports, GET /v1/contacts/imports/{importId}): the records, the ports their
 * stores implement, and the rules around them. No AWS here.
 *
 * The flow: a CSV body (or an upload's file, copied) is written to the bucket at the import's key,
 * `imports/<tenant>/<importId>.csv`; the bucket's ObjectCreated event (prefix `imports/`) reaches the
 * imports queue and starts the worker (functions/import-contacts.ts), which claims the import, checks
 * the whole file, then imports it in batches, each followed by a checkpoint. Before its invocation's
 * deadline the worker hands over to a new invocation (a message on the same queue) that resumes at
 * the checkpoint.
 */

export const IMPORT_ID_PREFIX = 'imp_';
export const UPLOAD_ID_PREFIX = 'upl_';
const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
export const IMPORT_ID_PATTERN = new RegExp(`^${IMPORT_ID_PREFIX}${ULID}$`);
export const UPLOAD_ID_PATTERN = new RegExp(`^${UPLOAD_ID_PREFIX}${ULID}$`);
/** `grp_` + ULID (audience.ts). */
export const GROUP_ID_PATTERN = new RegExp(`^grp_${ULID}$`);

export const newImportId = (now?: number) => `${IMPORT_ID_PREFIX}${ulid(now)}`;
export const newUploadId = (now?: number) => `${UPLOAD_ID_PREFIX}${ulid(now)}`;

/**
 * How long an upload URL can be used: 15 minutes to start the PUT. Short on purpose: a URL made with
 * a Lambda role's temporary credentials stops working when those credentials expire, whatever its
 * own expiry says (S3 user guide, "Sharing objects with presigned URLs"), and an upload URL is a
 * bearer capability.
 */
export const UPLOAD_URL_SECONDS = 15 * 60;
/** An uploaded file nobody imported is deleted after this many days (bucket lifecycle). */
export const UPLOAD_RETENTION_DAYS = 1;
/** An import's copy of its file is deleted this many days after it was written (bucket lifecycle). */
export const IMPORT_FILE_RETENTION_DAYS = 7;
/** An import's record (its row errors quote the file) is kept this many days after it ends. */
export const IMPORT_RECORD_DAYS = 30;
/** An Idempotency-Key of POST /v1/contacts/imports answers with its import this long. */
export const IMPORT_IDEMPOTENCY_SECONDS = 24 * 60 * 60;

/** Where uploads and import files live in the bucket; the S3 event that starts an import is on `imports/`. */
export const UPLOADS_PREFIX = 'uploads/';
export const IMPORTS_PREFIX = 'imports/';
export const uploadKey = (tenantId: string, uploadId: string) => `${UPLOADS_PREFIX}${tenantId}/${uploadId}`;
export const importKey = (tenantId: string, importId: string) =>
  `${IMPORTS_PREFIX}${tenantId}/${importId}.csv`;

const IMPORT_KEY = new RegExp(`^${IMPORTS_PREFIX}([A-Za-z0-9_-]+)/(${IMPORT_ID_PREFIX}${ULID})\\.csv$`);

/** The tenant and import an import file's key names; undefined for any other key. */
export function parseImportKey(key: string): { tenantId: string; importId: string } | undefined {
  const m = IMPORT_KEY.exec(key);
  return m ? { tenantId: m[1] as string, importId: m[2] as string } : undefined;
}

export type ImportStatus = 'running' | 'completed' | 'failed';
/** Where a running import is: its file not checked yet, or checked and being imported. */
export type ImportPhase = 'waiting' | 'importing';

export interface ImportOptions {
  /** ISO alpha-2, for national-format phones. */
  readonly defaultCountry?: string;
  /** Every imported contact becomes a member of this group. */
  readonly groupId?: string;
  /** Added to every imported contact. */
  readonly tags: readonly string[];
}

/** What the worker learned when it checked the whole file: how to read it from any checkpoint. */
export interface ImportFileInfo {
  readonly bytes: number;
  /** The object's ETag: every later read is conditional on it (If-Match), so the file cannot change under the import. */
  readonly etag: string;
  readonly delimiter: Delimiter;
  readonly header: readonly string[];
  /** Byte offset and line of the first data row. */
  readonly dataOffset: number;
  readonly dataLine: number;
}

/** A resume point: the file up to `offset` (a record boundary) is done, its last row `row`. */
export interface ImportCheckpoint {
  readonly offset: number;
  readonly row: number;
  /** The line the next record starts on. */
  readonly line: number;
}

export interface ImportFailure {
  /** A FileProblem, or `group_deleted`, `internal`. */
  readonly code: FileProblem | 'group_deleted' | 'internal';
  readonly message: string;
  readonly line?: number;
}

export interface ImportJob {
  readonly tenantId: string;
  readonly importId: string;
  readonly status: ImportStatus;
  readonly phase: ImportPhase;
  readonly source: 'body' | 'upload';
  readonly uploadId?: string;
  readonly options: ImportOptions;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** When a worker first claimed it. */
  readonly startedAt?: string;
  readonly completedAt?: string;
  readonly file?: ImportFileInfo;
  /** Data rows in the file (blank rows not counted), known once the file is checked. */
  readonly totalRows?: number;
  readonly counts: ImportCounts;
  readonly checkpoint?: ImportCheckpoint;
  /** The first 100 row errors. */
  readonly errors: readonly RowError[];
  readonly failure?: ImportFailure;
  /** Invocations that claimed it (1 for an import done in one pass). */
  readonly invocations: number;
}

/** A presigned upload slot (POST /v1/uploads). */
export interface Upload {
  readonly tenantId: string;
  readonly uploadId: string;
  readonly createdAt: string;
  /** When the URL stops working (ISO). */
  readonly expiresAt: string;
  /** The size the client declared, signed into the URL. */
  readonly contentLength?: number;
  /** The import that used it (an upload is imported once). */
  readonly importId?: string;
}

/** The import's Idempotency-Key record: the key answers with its import for the same request only. */
export interface ImportIdempotency {
  /** The tenant-scoped hash of the header (idempotency.ts explicitIdempotencyKey). */
  readonly key: string;
  /** What the request asked for (body or upload, and the query): the same key with another is a conflict. */
  readonly fingerprint: string;
}

export type CreateImportOutcome =
  | { readonly created: true }
  /** The Idempotency-Key already names an import (which may be this tenant's for another request). */
  | { readonly created: false; readonly idempotent: { importId: string; fingerprint: string } }
  /** The upload was imported already. */
  | { readonly created: false; readonly uploadUsedBy: string };

/** The worker's hold on an import: only the holder writes progress; a dead holder's lease runs out. */
export interface ImportLease {
  readonly token: string;
  readonly until: Date;
}

/** Another worker took the import over (this one's lease ran out): stop writing. */
export class ImportLeaseLostError extends Error {
  constructor(importId: string) {
    super(`lost the lease on import ${importId}`);
    this.name = 'ImportLeaseLostError';
  }
}

/** Imports and uploads, tenant-scoped: another tenant's are never read. */
export interface ImportStore {
  /**
   * Writes a new import (status running, phase waiting) and, in the same transaction, marks its
   * upload used and records its Idempotency-Key. Nothing is written when the upload was used or
   * the key is taken: the outcome says by what.
   */
  create(
    job: ImportJob,
    links: { upload?: { uploadId: string }; idempotency?: ImportIdempotency; now: Date },
  ): Promise<CreateImportOutcome>;
  /** Undoes `create` (the file could not be stored): the import, its key, its mark on the upload. */
  discard(
    job: ImportJob,
    links: { upload?: { uploadId: string }; idempotency?: ImportIdempotency },
  ): Promise<void>;
  get(tenantId: string, importId: string): Promise<ImportJob | undefined>;
  /** Newest first. */
  list(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<ImportJob>>;
  idempotency(
    tenantId: string,
    key: string,
    now: Date,
  ): Promise<{ importId: string; fingerprint: string } | undefined>;

  createUpload(upload: Upload): Promise<void>;
  getUpload(tenantId: string, uploadId: string): Promise<Upload | undefined>;

  /**
   * Takes the lease on a running import when nobody holds a live one (a conditional write): the
   * job as it is now, or undefined when it is final or another worker's lease is live.
   */
  claim(tenantId: string, importId: string, lease: ImportLease, now: Date): Promise<ImportJob | undefined>;
  /** The file checked: how to read it, its rows, and where importing starts. */
  fileChecked(
    job: ImportJob,
    lease: ImportLease,
    file: ImportFileInfo,
    totalRows: number,
    now: Date,
  ): Promise<void>;
  /** Progress after a batch: the checkpoint, the counts, the row errors when they changed. */
  checkpoint(
    job: ImportJob,
    lease: ImportLease,
    at: { checkpoint: ImportCheckpoint; counts: ImportCounts; errors?: readonly RowError[] },
    now: Date,
  ): Promise<void>;
  /** Gives the lease up so that the next invocation can take it at once. */
  release(job: ImportJob, lease: ImportLease): Promise<void>;
  /** Ends the import: completed, or failed with its reason. */
  finish(
    job: ImportJob,
    lease: ImportLease,
    outcome: { status: 'completed' } | { status: 'failed'; failure: ImportFailure },
    now: Date,
  ): Promise<void>;
}

/** The import files in the bucket, as the worker reads them. */
export interface ImportFiles {
  head(key: string): Promise<{ bytes: number; etag: string } | undefined>;
  /**
   * The object's bytes from `start` (to `end`, exclusive, when given), streamed. With `etag`, the
   * read fails with FileChangedError unless the object is still that version (S3 If-Match).
   */
  read(
    key: string,
    range: { start: number; end?: number; etag?: string },
  ): Promise<AsyncIterable<Uint8Array>>;
}

export class FileChangedError extends Error {
  constructor(key: string) {
    super(`${key} changed during the import`);
    this.name = 'FileChangedError';
  }
}

/** The message that resumes an import in a new invocation. */
export interface ImportContinuation {
  readonly kind: 'import.continue';
  readonly tenantId: string;
  readonly importId: string;
}

export interface ImportQueue {
  continueImport(tenantId: string, importId: string): Promise<void>;
}

/** The bucket as the create route writes import files into it. */
export interface ImportFileWriter {
  head(key: string): Promise<{ bytes: number; etag: string } | undefined>;
  /** The first `bytes` bytes of an object (or all of it when smaller). */
  readStart(key: string, bytes: number): Promise<Uint8Array>;
  put(key: string, body: Uint8Array): Promise<void>;
  copy(from: string, to: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * Receives before the imports queue gives a message up to its dead-letter queue (lib/topology.ts):
 * the worker marks an import failed on the last one rather than leave it running for ever.
 */
export const IMPORT_QUEUE_MAX_RECEIVES = 5;

/** Percent of the data rows handled (0–100, whole); 100 once completed. */
export function progressPct(job: Pick<ImportJob, 'status' | 'totalRows' | 'counts'>): number {
  if (job.status === 'completed') return 100;
  if (!job.totalRows) return 0;
  return Math.min(99, Math.floor((job.counts.processedRows / job.totalRows) * 100));
}

// -- S3 events -----------------------------------------------------------------------------------

/** An object an S3 ObjectCreated event names. */
export interface CreatedObject {
  readonly bucket: string;
  readonly key: string;
  readonly size?: number;
  readonly eTag?: string;
}

/**
 * What an imports-queue message asks for: the objects an S3 event notification says were created
 * (its JSON as S3 sends it to SQS: `{ "Records": [ { "eventSource": "aws:s3", "eventName":
 * "ObjectCreated:Put", "s3": { "bucket": { "name" }, "object": { "key", "size", "eTag" } } } ] }`,
 * S3 user guide, "Event message structure"; the key is URL-encoded, a space as `+`), a continuation,
 * or nothing: S3's `s3:TestEvent` when the notification is configured, and anything unknown.
 */
export function parseImportMessage(
  body: string,
): { objects: CreatedObject[] } | { continuation: ImportContinuation } | { ignore: string } {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    return { ignore: 'not JSON' };
  }
  if (!message || typeof message !== 'object') return { ignore: 'not an object' };
  const m = message as Record<string, unknown>;
  if (m.kind === 'import.continue' && typeof m.tenantId === 'string' && typeof m.importId === 'string')
    return { continuation: { kind: 'import.continue', tenantId: m.tenantId, importId: m.importId } };
  if (m.Event === 's3:TestEvent') return { ignore: 'S3 test event' };
  if (!Array.isArray(m.Records)) return { ignore: 'no Records' };
  const objects: CreatedObject[] = [];
  for (const record of m.Records as Record<string, unknown>[]) {
    const s3 = record?.s3 as { bucket?: { name?: unknown }; object?: Record<string, unknown> } | undefined;
    if (record?.eventSource !== 'aws:s3' || !String(record.eventName ?? '').startsWith('ObjectCreated:'))
      continue;
    const key = s3?.object?.key;
    const bucket = s3?.bucket?.name;
    if (typeof key !== 'string' || typeof bucket !== 'string') continue;
    objects.push({
      bucket,
      key: decodeS3EventKey(key),
      ...(typeof s3?.object?.size === 'number' ? { size: s3.object.size } : {}),
      ...(typeof s3?.object?.eTag === 'string' ? { eTag: s3.object.eTag } : {}),
    });
  }
  return { objects };
}

/** An S3 event's object key as stored: URL-decoded, `+` a space (a malformed escape is left as it is). */
export function decodeS3EventKey(key: string): string {
  const spaced = key.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** An object key as S3 writes it in an event (the inverse of decodeS3EventKey). */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}
