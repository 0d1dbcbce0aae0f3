import { MAX_IDEMPOTENCY_KEY_LENGTH } from './broadcast-request.ts';
import { MAX_IMPORT_FILE_BYTES, MAX_IMPORT_ROWS } from './csv-file.ts';
import './import-request.ts';
import { IMPORT_IDEMPOTENCY_SECONDS, UPLOAD_URL_SECONDS } from './imports.ts';
import { bearer, errors, type Json, json, limitCursorParams, ref } from './openapi-parts.ts';

/**
 * The OpenAPI paths of uploads and contact imports (openapi.ts spreads them into the document; the
 * schemas they name are registered by import-request.ts).
 */

const pageParams = limitCursorParams;

export function importPaths(): Record<string, Json> {
  return {
    '/v1/uploads': {
      post: {
        operationId: 'createUpload',
        summary: 'A presigned URL to PUT a file too big for a request (a contacts CSV of up to 100 MiB)',
        description: `PUT the file to \`url\` with exactly \`headers\` within ${UPLOAD_URL_SECONDS / 60} minutes, then POST /v1/contacts/imports with {"uploadId"}. The body is optional; with contentLength, S3 refuses a file of another size. Not idempotent: each call is a new upload slot (an unused one expires).`,
        security: bearer,
        requestBody: { required: false, content: { 'application/json': { schema: ref('UploadRequest') } } },
        responses: {
          '201': json(ref('Upload'), 'The upload slot'),
          ...errors(400, 401, 415, 500),
        },
      },
    },
    '/v1/contacts/imports': {
      post: {
        operationId: 'importContacts',
        summary: 'Import contacts from a CSV file, in the background',
        description: `The file is the body (Content-Type: text/csv, UTF-8 with or without BOM, as large as a request allows: about 4–6 MB) or an upload ({"uploadId"} as JSON) of up to ${MAX_IMPORT_FILE_BYTES} bytes and ${MAX_IMPORT_ROWS} rows. Columns by header, any case: phone (or mobile, whatsapp, number, …), name, tags, language, timezone, consent; every other column is an attribute. The file's start is checked here (400 for a workbook, another encoding, no phone column); the worker checks the whole file before it writes anything, then imports it (GET the import for progress).`,
        security: bearer,
        parameters: [
          {
            name: 'defaultCountry',
            in: 'query',
            required: false,
            description: 'ISO 3166-1 alpha-2, for national-format phones (050-123-4567 with IL)',
            schema: { type: 'string', examples: ['IL'] },
          },
          {
            name: 'groupId',
            in: 'query',
            required: false,
            description: 'Every imported contact joins this group (404 if there is none)',
            schema: { type: 'string' },
          },
          {
            name: 'tags',
            in: 'query',
            required: false,
            description: 'Comma-separated tags added to every imported contact',
            schema: { type: 'string', examples: ['expo-2026,north'] },
          },
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: `Same key and same request (file and query): the same import (idempotent: true) for ${IMPORT_IDEMPOTENCY_SECONDS / 3600} hours; same key, another request: 409 IDEMPOTENCY_CONFLICT`,
            schema: { type: 'string', maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
          },
        ],
        requestBody: {
          required: true,
          content: {
            'text/csv': {
              schema: { type: 'string', examples: ['phone,name,city\n+972501234567,Dana,Haifa\n'] },
            },
            'application/json': { schema: ref('ImportFromUploadRequest') },
          },
        },
        responses: {
          '202': {
            ...json(ref('ImportAccepted'), 'Accepted: the import runs in the background'),
            headers: {
              Location: {
                description: 'The import: /v1/contacts/imports/{importId}',
                schema: { type: 'string' },
              },
            },
          },
          ...errors(400, 401, 404, 409, 413, 415, 500),
        },
      },
      get: {
        operationId: 'listImports',
        summary: "The tenant's imports, newest first (without their row errors)",
        security: bearer,
        parameters: pageParams,
        responses: { '200': json(ref('ImportPage'), 'A page of imports'), ...errors(400, 401, 500) },
      },
    },
    '/v1/contacts/imports/{importId}': {
      get: {
        operationId: 'getImport',
        summary: 'An import: status, progress, counts, the first 100 row errors, why it failed',
        security: bearer,
        parameters: [
          { name: 'importId', in: 'path', required: true, description: 'imp_…', schema: { type: 'string' } },
        ],
        responses: { '200': json(ref('Import'), 'The import'), ...errors(400, 401, 404, 500) },
      },
    },
  };
}
