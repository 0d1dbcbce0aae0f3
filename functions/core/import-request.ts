import { z } from 'zod';
import { apiSchemas, CountryCode, PageQuery, registerRouteQueries } from './broadcast-request.ts';
import { MAX_TAG_LENGTH, MAX_TAGS, TAG_PATTERN } from './contact-rules.ts';
import { FILE_PROBLEMS, MAX_IMPORT_FILE_BYTES } from './csv-file.ts';
import { ROW_REASONS } from './import-rows.ts';
import {
  GROUP_ID_PATTERN,
  IMPORT_ID_PATTERN,
  type ImportJob,
  progressPct,
  UPLOAD_ID_PATTERN,
} from './imports.ts';

/**
 * The shapes of the upload and import routes (API.md "Contacts"), as zod schemas: requests are
 * validated with them, and the OpenAPI document (openapi-imports.ts) is generated from them.
 */

const count = z.number().int().min(0);
const timestamp = z.string().meta({ format: 'date-time', description: 'ISO-8601 UTC' });

export const ImportId = z
  .string()
  .regex(IMPORT_ID_PATTERN)
  .meta({ description: 'imp_ + ULID', example: 'imp_01JD7X1B2C3D4E5F6G7H8J9K0M' });
export const UploadId = z
  .string()
  .regex(UPLOAD_ID_PATTERN, 'must be an upload id from POST /v1/uploads (upl_ followed by 26 characters)')
  .meta({ description: 'upl_ + ULID, from POST /v1/uploads', example: 'upl_01JD7X1B2C3D4E5F6G7H8J9K0M' });

const Tag = z
  .string()
  .min(1)
  .max(MAX_TAG_LENGTH)
  .regex(TAG_PATTERN, 'a tag has no , or ; and no control characters');

/** `?tags=a,b`: trimmed, empty ones dropped, distinct, each a valid tag. */
const TagList = z
  .string()
  .transform((text) => [
    ...new Set(
      text
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
    ),
  ])
  .pipe(z.array(Tag).max(MAX_TAGS, `at most ${MAX_TAGS} tags`));

/** Query of POST /v1/contacts/imports. */
export const ImportQuery = z.strictObject({
  defaultCountry: CountryCode.optional(),
  groupId: z
    .string()
    .regex(GROUP_ID_PATTERN, 'must be a group id (grp_ followed by 26 characters)')
    .optional()
    .meta({ description: 'Every imported contact joins this group (it must exist: 404 otherwise)' }),
  tags: TagList.optional().meta({
    description: 'Comma-separated tags added to every imported contact',
    example: 'expo-2026,north',
  }),
});
export type ImportQueryInput = z.output<typeof ImportQuery>;

// Route query parameters are checked by adminRoute before the handler (broadcast-request.ts).
registerRouteQueries({
  'POST /v1/contacts/imports': ImportQuery,
  'GET /v1/contacts/imports': PageQuery,
});

export const UploadRequest = z
  .strictObject({
    contentLength: z
      .number()
      .int()
      .min(1)
      .max(MAX_IMPORT_FILE_BYTES, `at most ${MAX_IMPORT_FILE_BYTES} bytes (100 MiB): split the file`)
      .optional()
      .meta({
        description:
          "The file's size in bytes. Signed into the URL: S3 then refuses an upload of another size. Without it any size can be uploaded, and the import refuses a file over 100 MiB.",
      }),
  })
  .register(apiSchemas, { id: 'UploadRequest' });

export const UploadView = z
  .object({
    uploadId: UploadId,
    url: z.string().meta({ description: 'Presigned S3 URL: PUT the file there, before expiresAt' }),
    method: z.literal('PUT'),
    headers: z.record(z.string(), z.string()).meta({
      description:
        'Headers the PUT must carry exactly (they are signed): Content-Type: text/csv, and Content-Length when declared',
      example: { 'Content-Type': 'text/csv' },
    }),
    expiresAt: timestamp.meta({ description: 'The URL works until then (15 minutes)' }),
    maxBytes: z.number().int().meta({ description: 'The largest file an import reads (104,857,600 bytes)' }),
  })
  .register(apiSchemas, { id: 'Upload' });

export const ImportFromUpload = z
  .strictObject({ uploadId: UploadId })
  .register(apiSchemas, { id: 'ImportFromUploadRequest' });

export const ImportAccepted = z
  .object({
    importId: ImportId,
    status: z.enum(['running', 'completed', 'failed']),
    idempotent: z.boolean().optional().meta({
      description: 'true when the Idempotency-Key named an earlier import: this is it, as it is now',
    }),
  })
  .register(apiSchemas, { id: 'ImportAccepted' });

export const ImportRowError = z
  .object({
    row: z.number().int().min(1).meta({ description: '1 = the first data row (the spreadsheet row 2)' }),
    line: z.number().int().min(2).meta({ description: 'The file line the row starts on (1 = the header)' }),
    input: z.string().meta({ description: 'The value at fault, as written (at most 100 characters)' }),
    reason: z.enum(ROW_REASONS),
    column: z.string().optional().meta({ description: 'The column at fault, when it is not the phone' }),
  })
  .register(apiSchemas, { id: 'ImportRowError' });

const FailureCode = z.enum([...FILE_PROBLEMS, 'group_deleted', 'internal']);

const importFields = {
  importId: ImportId,
  status: z.enum(['running', 'completed', 'failed']),
  source: z.enum(['body', 'upload']),
  uploadId: UploadId.optional(),
  defaultCountry: z.string().optional(),
  groupId: z.string().optional(),
  tags: z.array(z.string()),
  fileBytes: count.optional(),
  totalRows: count.nullable().meta({
    description: 'Data rows in the file (blank rows not counted); null until the whole file is checked',
  }),
  processedRows: count,
  createdCount: count,
  updatedCount: count.meta({ description: 'Rows whose contact existed (imported again: changed or not)' }),
  duplicateCount: count.meta({
    description: 'Rows whose phone an earlier row of the file had (the first wins)',
  }),
  invalidCount: count,
  progressPct: z.number().int().min(0).max(100),
  createdAt: timestamp,
  startedAt: timestamp.optional(),
  updatedAt: timestamp,
  completedAt: timestamp.optional(),
  failure: z
    .object({ code: FailureCode, message: z.string(), line: z.number().int().optional() })
    .optional()
    .meta({ description: 'Why a failed import stopped (the file, a deleted group, an unexpected error)' }),
};

export const ImportSummaryView = z.object(importFields).register(apiSchemas, { id: 'ImportSummary' });

export const ImportView = z
  .object({
    ...importFields,
    errors: z
      .array(ImportRowError)
      .meta({ description: 'The first 100 refused rows; invalidCount counts them all' }),
  })
  .register(apiSchemas, { id: 'Import' });
export type ImportViewShape = z.infer<typeof ImportView>;

export const ImportPage = z
  .object({ items: z.array(ImportSummaryView), nextCursor: z.string().optional() })
  .register(apiSchemas, { id: 'ImportPage' });

/** An import as GET /v1/contacts/imports/{importId} shows it (the list leaves out `errors`). */
export function importView(job: ImportJob): ImportViewShape {
  const { counts, options } = job;
  return {
    importId: job.importId,
    status: job.status,
    source: job.source,
    ...(job.uploadId ? { uploadId: job.uploadId } : {}),
    ...(options.defaultCountry ? { defaultCountry: options.defaultCountry } : {}),
    ...(options.groupId ? { groupId: options.groupId } : {}),
    tags: [...options.tags],
    ...(job.file ? { fileBytes: job.file.bytes } : {}),
    totalRows: job.totalRows ?? null,
    processedRows: counts.processedRows,
    createdCount: counts.createdCount,
    updatedCount: counts.updatedCount,
    duplicateCount: counts.duplicateCount,
    invalidCount: counts.invalidCount,
    progressPct: progressPct(job),
    createdAt: job.createdAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    updatedAt: job.updatedAt,
    ...(job.completedAt ? { completedAt: job.completedAt } : {}),
    ...(job.failure
      ? {
          failure: {
            code: job.failure.code,
            message: job.failure.message,
            ...(job.failure.line !== undefined ? { line: job.failure.line } : {}),
          },
        }
      : {}),
    errors: job.errors.map((e) => ({
      row: e.row,
      line: e.line,
      input: e.input,
      reason: e.reason,
      ...(e.column !== undefined ? { column: e.column } : {}),
    })),
  };
}
