import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { adminRoute } from './commons/admin-route.ts';
import { header, json, parseJson } from './commons/http.ts';
import { logger } from './commons/powertools.ts';
import { groups, importStore, uploadFiles } from './commons/wiring.ts';
import { PageQuery, parseIdempotencyKey, parseListQuery } from './core/broadcast-request.ts';
import { MAX_IMPORT_FILE_BYTES } from './core/csv-file.ts';
import { ApiError, fromZodError } from './core/errors.ts';
import {
  ImportFromUpload,
  ImportQuery,
  type ImportViewShape,
  importView,
  UploadRequest,
} from './core/import-request.ts';
import { IMPORT_ID_PATTERN, newUploadId, UPLOAD_URL_SECONDS, uploadKey } from './core/imports.ts';
import { createImport, type ImportSource } from './use-cases/create-import.ts';

/**
 * Contact imports and the uploads that carry big files (API.md "Contacts"):
 * - POST /v1/uploads → 201 a presigned PUT URL for a file of up to 100 MiB;
 * - POST /v1/contacts/imports with a CSV body (`Content-Type: text/csv`) or `{ "uploadId" }` (JSON)
 *   → 202 `{ importId, status }`; the import runs in the background (import-contacts.ts);
 * - GET /v1/contacts/imports/{importId} → its progress, counts and first 100 row errors;
 * - GET /v1/contacts/imports → the tenant's imports, newest first.
 * Everything is the caller's tenant's: another tenant's import or upload is 404.
 */
export const handler = adminRoute(async (event, tenantId) => {
  switch (event.routeKey) {
    case 'POST /v1/uploads':
      return createUpload(event, tenantId);
    case 'POST /v1/contacts/imports':
      return startImport(event, tenantId);
    case 'GET /v1/contacts/imports/{importId}': {
      const importId = event.pathParameters?.importId ?? '';
      const job = IMPORT_ID_PATTERN.test(importId) ? await importStore().get(tenantId, importId) : undefined;
      if (!job) throw new ApiError('NOT_FOUND', `No import ${importId.slice(0, 100)}.`);
      return json(200, importView(job));
    }
    case 'GET /v1/contacts/imports': {
      const query = parseListQuery(PageQuery, event.queryStringParameters);
      const page = await importStore().list(tenantId, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      return json(200, {
        items: page.items.map(summary),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});

/**
 * Not idempotent, on purpose: each call is a new upload slot (nothing is stored but its record; an
 * unused one expires with its URL and the bucket's lifecycle rule), so a retried call costs nothing.
 */
async function createUpload(event: APIGatewayProxyEventV2, tenantId: string) {
  const parsed = UploadRequest.safeParse(event.body ? parseJson(event) : {});
  if (!parsed.success) throw fromZodError(parsed.error);
  const now = new Date();
  const uploadId = newUploadId(now.getTime());
  const expiresAt = new Date(now.getTime() + UPLOAD_URL_SECONDS * 1000).toISOString();
  const { contentLength } = parsed.data;
  const signed = await uploadFiles().presignPut(uploadKey(tenantId, uploadId), {
    expiresInSeconds: UPLOAD_URL_SECONDS,
    ...(contentLength !== undefined ? { contentLength } : {}),
  });
  await importStore().createUpload({
    tenantId,
    uploadId,
    createdAt: now.toISOString(),
    expiresAt,
    ...(contentLength !== undefined ? { contentLength } : {}),
  });
  logger.info('upload created', { uploadId, declaredBytes: contentLength });
  return json(201, {
    uploadId,
    url: signed.url,
    method: 'PUT',
    headers: signed.headers,
    expiresAt,
    maxBytes: MAX_IMPORT_FILE_BYTES,
  });
}

async function startImport(event: APIGatewayProxyEventV2, tenantId: string) {
  const query = parseListQuery(ImportQuery, event.queryStringParameters);
  const idempotencyKey = parseIdempotencyKey(header(event, 'idempotency-key'));
  const source = importSource(event);
  const { job, idempotent } = await createImport(
    { store: importStore(), files: uploadFiles(), groups: groups(), now: () => new Date(), log: logTo },
    tenantId,
    source,
    {
      ...(query.defaultCountry ? { defaultCountry: query.defaultCountry } : {}),
      ...(query.groupId ? { groupId: query.groupId } : {}),
      tags: query.tags ?? [],
    },
    idempotencyKey,
  );
  return json(
    202,
    { importId: job.importId, status: job.status, ...(idempotent ? { idempotent: true } : {}) },
    { location: `/v1/contacts/imports/${job.importId}` },
  );
}

/**
 * The import's file: the body itself (`text/csv`, UTF-8), or the upload a JSON body names. Anything
 * else is 415 before the body is read.
 */
function importSource(event: APIGatewayProxyEventV2): ImportSource {
  const contentType = header(event, 'content-type') ?? '';
  const [type = '', ...parameters] = contentType.split(';');
  const mediaType = type.trim().toLowerCase();
  if (mediaType === 'application/json') {
    const parsed = ImportFromUpload.safeParse(parseJson(event));
    if (!parsed.success) throw fromZodError(parsed.error);
    return { kind: 'upload', uploadId: parsed.data.uploadId };
  }
  if (mediaType !== 'text/csv')
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Send the CSV file as the body with Content-Type: text/csv, or {"uploadId": "upl_…"} as JSON for a file sent through POST /v1/uploads (got ${contentType ? `'${contentType.slice(0, 100)}'` : 'no Content-Type'}).`,
      [
        {
          path: 'Content-Type',
          message: 'use text/csv or application/json',
          expected: ['text/csv', 'application/json'],
        },
      ],
    );
  const charset = parameters
    .map((p) => p.split('='))
    .find(([name]) => name?.trim().toLowerCase() === 'charset')?.[1]
    ?.trim()
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Only UTF-8 CSV is read (got charset ${charset.slice(0, 40)}).`,
      [
        {
          path: 'Content-Type',
          message: `charset ${charset.slice(0, 40)}: only utf-8 is read`,
          expected: ['text/csv'],
        },
      ],
    );
  if (!event.body) return { kind: 'body', bytes: new Uint8Array() };
  if (event.isBase64Encoded) return { kind: 'body', bytes: Buffer.from(event.body, 'base64') };
  // A text body reached us already decoded: bytes that were not UTF-8 became U+FFFD on the way.
  if (event.body.includes('\uFFFD'))
    throw new ApiError(
      'VALIDATION_FAILED',
      "The file cannot be imported: it is not UTF-8 text (it was probably saved in a Windows code page). In Excel: File › Save As › 'CSV UTF-8 (Comma delimited)'.",
      [{ path: '', message: 'not UTF-8 text', reason: 'not_utf8' }],
    );
  return { kind: 'body', bytes: Buffer.from(event.body, 'utf8') };
}

function summary(job: Parameters<typeof importView>[0]): Omit<ImportViewShape, 'errors'> {
  const { errors: _errors, ...rest } = importView(job);
  return rest;
}

function logTo(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) {
  logger[level](message, fields ?? {});
}
