import { z } from 'zod';
import { MAX_MEMBERS_PER_REQUEST } from './audience-request.ts';
import { apiSchemas, MAX_IDEMPOTENCY_KEY_LENGTH } from './broadcast-request.ts';
import { TEMPLATE_APPROVALS, TEMPLATE_CATEGORIES } from './content-templates.ts';
import { MAX_CSV_BODY_BYTES, MAX_CSV_ROWS } from './csv-export.ts';
import { ERROR_CODES, type ErrorCode } from './errors.ts';
import { accessPaths, accessSchemas, withAccessAnswers } from './openapi-access.ts';
import { campaignPaths, campaignSchemas } from './openapi-campaigns.ts';
import { erasurePaths } from './openapi-erasures.ts';
import { importPaths } from './openapi-imports.ts';
import { senderPaths } from './openapi-senders.ts';
import { webhookPaths } from './openapi-webhooks.ts';
import { LAMBDA_MAX_EVENT_BYTES } from './request-limits.ts';
import { MAX_TEST_PHONES } from './test-send.ts';
// Register their schemas in apiSchemas.
import './preview.ts';
import './suppression-views.ts';
import './tenant-settings.ts';
// Registers the Template and TemplatePage schemas.
import './template-views.ts';
import { bearer, errors, type Json, json, limitCursorParams, ref } from './openapi-parts.ts';

/**
 * The OpenAPI 3.1 document of the API (served at GET /openapi.json), generated from the same zod
 * schemas the handlers validate with (broadcast-request.ts), so the document cannot drift from
 * the code. OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what `z.toJSONSchema` emits.
 */

/** The error responses, one per HTTP status, listing the codes that status can carry. */
function errorResponses(): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const [code, status] of Object.entries(ERROR_CODES) as [ErrorCode, number][]) {
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, Json> = {};
  for (const [status, codes] of byStatus) {
    responses[`Error${status}`] = json(ref('Error'), `Error: ${codes.join(', ')}`);
  }
  responses.Error405 = {
    ...responses.Error405,
    headers: {
      Allow: { description: 'The methods this path takes, e.g. GET, POST', schema: { type: 'string' } },
    },
  };
  return responses;
}

const idParam: Json = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Broadcast id (brd_…)',
  schema: { type: 'string' },
};
const phoneParam: Json = {
  name: 'phone',
  in: 'path',
  required: true,
  description: 'The contact, E.164 URL-encoded (%2B972501234567); the digits without + are accepted too',
  schema: { type: 'string' },
};
const pageParams = (statusSchema: string): Json[] => [
  ...limitCursorParams,
  { name: 'status', in: 'query', required: false, schema: ref(statusSchema) },
];

const groupIdParam: Json = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Group id (grp_…)',
  schema: { type: 'string' },
};
const formatParam: Json = {
  name: 'format',
  in: 'query',
  required: false,
  description: 'csv: the list as a CSV file (the same as Accept: text/csv); json by default',
  schema: { type: 'string', enum: ['json', 'csv'] },
};
/** A list that also answers as a CSV export (core/csv-export.ts). */
const jsonOrCsv = (schema: Json, description: string, columns: string): Json => ({
  description: `${description}. As CSV (format=csv or Accept: text/csv): UTF-8 with a BOM, a header row, RFC 4180 quoting, CRLF; ${columns}; cells a spreadsheet would run as a formula (starting with = + - @, a tab or a CR, E.164 phones included) start with '. One part holds at most ${MAX_CSV_ROWS} rows and ${MAX_CSV_BODY_BYTES} bytes; when more remain, the Link header (rel="next") and X-Next-Cursor name the next part`,
  headers: {
    Link: {
      description: 'CSV only, when more rows remain: <path?…&cursor=…>; rel="next"',
      schema: { type: 'string' },
    },
    'X-Next-Cursor': {
      description: "CSV only, when more rows remain: the next part's cursor",
      schema: { type: 'string' },
    },
    'Content-Disposition': {
      description: 'CSV only: attachment; filename="…csv"',
      schema: { type: 'string' },
    },
  },
  content: {
    'application/json': { schema },
    'text/csv': { schema: { type: 'string' } },
  },
});
const noContent = (description: string): Json => ({ description });
const contentSidParam: Json = {
  name: 'contentSid',
  in: 'path',
  required: true,
  description: 'Twilio Content SID (HX + 32 hex); another shape is 400 VALIDATION_FAILED',
  schema: { type: 'string', pattern: '^HX[0-9a-fA-F]{32}$' },
};
const templateFilterParams: Json[] = [
  {
    name: 'approval',
    in: 'query',
    required: false,
    description: 'Only templates with this WhatsApp approval',
    schema: { type: 'string', enum: [...TEMPLATE_APPROVALS] },
  },
  {
    name: 'category',
    in: 'query',
    required: false,
    description: 'Only templates of this Meta category',
    schema: { type: 'string', enum: [...TEMPLATE_CATEGORIES] },
  },
];

function componentSchemas(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(apiSchemas, {
    uri: (id) => `#/components/schemas/${id}`,
    io: 'input',
    unrepresentable: 'any',
  });
  const out: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    if (id === '__shared') throw new Error('openapi: shared $defs are not expected; give the schema an id');
    const { $schema: _schema, $id: _id, ...rest } = schema as Json;
    out[id] = rest;
  }
  return out;
}

function build(serverUrl?: string): Json {
  const open: unknown[] = [];
  const doc: Json = {
    openapi: '3.1.0',
    info: {
      title: 'WhatsApp broadcast API',
      version: '1.0.0',
      description:
        'Send approved WhatsApp templates to many recipients through Twilio, follow their progress, cancel and retry. ' +
        'Errors always have the shape { error: { code, message, details? } }, details an array of objects with at least a message. ' +
        'A path no route has answers 404 NOT_FOUND; a path with another method answers 405 METHOD_NOT_ALLOWED with an Allow header. ' +
        'Request bodies are JSON: without Content-Type: application/json (charset utf-8 or none) the answer is 415 UNSUPPORTED_MEDIA_TYPE. ' +
        'A query parameter a route does not take is refused (400 VALIDATION_FAILED naming it), like an unknown body field. ' +
        `A request whose Lambda event would exceed ${LAMBDA_MAX_EVENT_BYTES} bytes answers 413 PAYLOAD_TOO_LARGE (on AWS, API Gateway's own 413).`,
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: bearer,
    paths: {
      '/v1/broadcasts/preview': {
        post: {
          operationId: 'previewBroadcast',
          summary:
            'Dry run: what a broadcast would do (recipients, skips, time, cost, samples); stores and sends nothing',
          security: bearer,
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('CreateBroadcastRequest') } },
          },
          responses: {
            '200': json(ref('BroadcastPreview'), 'What POST /v1/broadcasts with this body would do now'),
            ...errors(400, 401, 413, 415, 500, 503),
          },
        },
      },
      '/v1/broadcasts/test-send': {
        post: {
          operationId: 'testSendBroadcast',
          summary: `Send the broadcast's message to 1–${MAX_TEST_PHONES} test phones only, as a broadcast marked test (not counted in metrics, caps or the daily limit)`,
          security: bearer,
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('TestSendRequest') } },
          },
          responses: {
            '202': json(
              ref('TestSendResponse'),
              'The test broadcast accepted; each test phone says whose values it got',
            ),
            ...errors(400, 401, 409, 413, 415, 500, 503),
          },
        },
      },
      '/v1/broadcasts': {
        post: {
          operationId: 'createBroadcast',
          summary: 'Create a broadcast',
          security: bearer,
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'Same key and same body: the same broadcast (idempotent: true); same key, different body: 409 IDEMPOTENCY_CONFLICT',
              schema: { type: 'string', maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
            },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('CreateBroadcastRequest') } },
          },
          responses: {
            '202': json(
              ref('CreateBroadcastResponse'),
              'Accepted (or the existing broadcast, idempotent: true)',
            ),
            ...errors(400, 401, 409, 413, 415, 429, 500, 503),
          },
        },
        get: {
          operationId: 'listBroadcasts',
          summary: 'List broadcasts, newest first',
          security: bearer,
          parameters: [
            ...pageParams('BroadcastStatus'),
            {
              name: 'test',
              in: 'query',
              required: false,
              description: 'false: hide test sends; true: only test sends; absent: all',
              schema: { type: 'string', enum: ['true', 'false'] },
            },
          ],
          responses: { '200': json(ref('BroadcastPage'), 'A page of broadcasts'), ...errors(400, 401, 500) },
        },
      },
      '/v1/broadcasts/{id}': {
        get: {
          operationId: 'getBroadcast',
          security: bearer,
          parameters: [idParam],
          responses: { '200': json(ref('Broadcast'), 'The broadcast'), ...errors(400, 401, 404, 500) },
        },
      },
      '/v1/broadcasts/{id}/progress': {
        get: {
          operationId: 'getBroadcastProgress',
          security: bearer,
          parameters: [idParam],
          responses: {
            '200': json(ref('Progress'), 'Progress and error summary'),
            ...errors(400, 401, 404, 500),
          },
        },
      },
      '/v1/broadcasts/{id}/recipients': {
        get: {
          operationId: 'listBroadcastRecipients',
          security: bearer,
          parameters: [idParam, ...pageParams('RecipientStatus'), formatParam],
          responses: {
            '200': jsonOrCsv(
              ref('RecipientPage'),
              'A page of recipients',
              'columns phone, status, attempts, messageSid, errorCode, errorMessage, queuedAt, sentAt, deliveredAt, readAt, confirmedAt, followUpStatus, followUpMessageSid, followUpErrorCode, followUpErrorMessage, nextRetryAt, updatedAt',
            ),
            ...errors(400, 401, 404, 500),
          },
        },
      },
      '/v1/broadcasts/{id}/cancel': {
        post: {
          operationId: 'cancelBroadcast',
          description:
            'No new send starts within a second. The answer waits for the sends already under way to settle (up to 15 s), so cancelledCount is the count the broadcast ends with. 409 for a final broadcast.',
          security: bearer,
          parameters: [idParam],
          responses: {
            '200': json(ref('CancelResponse'), 'Cancelled; recipients not yet sent will not be sent'),
            ...errors(400, 401, 404, 409, 500),
          },
        },
      },
      '/v1/broadcasts/{id}/pause': {
        post: {
          operationId: 'pauseBroadcast',
          description:
            'No new send starts within a second; unsent recipients wait. Idempotent on a paused broadcast. 409 for a final or scheduled one.',
          security: bearer,
          parameters: [idParam],
          responses: {
            '200': json(ref('PauseResponse'), 'Paused'),
            ...errors(400, 401, 404, 409, 500),
          },
        },
      },
      '/v1/broadcasts/{id}/resume': {
        post: {
          operationId: 'resumeBroadcast',
          description:
            'Back to the status it was paused from; its unsent recipients are enqueued again, nobody is sent twice. 200 with nothing released for a broadcast still sending; 409 for a final one.',
          security: bearer,
          parameters: [idParam],
          responses: {
            '200': json(ref('ResumeResponse'), 'Resumed'),
            ...errors(400, 401, 404, 409, 500),
          },
        },
      },
      '/v1/broadcasts/{id}/retry': {
        post: {
          operationId: 'retryBroadcast',
          security: bearer,
          parameters: [idParam],
          responses: {
            '202': json(
              ref('RetryResponse'),
              'Failed and undelivered recipients re-queued (except permanent reasons)',
            ),
            ...errors(400, 401, 404, 409, 500),
          },
        },
      },
      '/v1/metrics': {
        get: {
          operationId: 'getMetrics',
          security: bearer,
          responses: {
            '200': json(ref('Metrics'), "The caller's tenant's metrics"),
            ...errors(400, 401, 500),
          },
        },
      },
      '/v1/settings': {
        get: {
          operationId: 'getSettings',
          security: bearer,
          responses: {
            '200': json(
              ref('TenantSettings'),
              "The caller's tenant's settings (defaults for what was never set)",
            ),
            ...errors(400, 401, 500),
          },
        },
        put: {
          operationId: 'updateSettings',
          security: bearer,
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('TenantSettingsUpdate') } },
          },
          responses: {
            '200': json(ref('TenantSettings'), 'The settings after the change'),
            ...errors(400, 401, 415, 500),
          },
        },
      },
      '/v1/suppressions': {
        get: {
          operationId: 'listSuppressions',
          summary:
            "The tenant's suppression list and the sender-wide opt-outs (scope sender), in phone order",
          security: bearer,
          parameters: limitCursorParams,
          responses: {
            '200': json(ref('SuppressionPage'), 'A page of suppressed numbers'),
            ...errors(400, 401, 500),
          },
        },
        post: {
          operationId: 'addSuppression',
          summary: 'Suppress a number: no broadcast or follow-up is sent to it any more',
          security: bearer,
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('SuppressionRequest') } },
          },
          responses: {
            '200': json(
              ref('Suppression'),
              "Already suppressed by the person's own opt-out (STOP, a button) or Twilio's (21610, 63014): that entry is kept, and answered as it is",
            ),
            '201': json(
              ref('Suppression'),
              "Suppressed (reason admin); an admin's entry already there is replaced",
            ),
            ...errors(400, 401, 413, 415, 500),
          },
        },
      },
      '/v1/suppressions/{phone}': {
        delete: {
          operationId: 'removeSuppression',
          summary: 'Allow a suppressed number again',
          security: bearer,
          parameters: [phoneParam],
          responses: {
            '200': json(ref('UnsuppressResponse'), 'Removed from the list'),
            ...errors(400, 401, 404, 409, 500),
          },
        },
      },
      '/v1/contacts/{phone}/messages': {
        get: {
          operationId: 'listContactMessages',
          summary: "A contact's messages with this tenant, newest first, with live statuses",
          security: bearer,
          parameters: [phoneParam, ...limitCursorParams],
          responses: {
            '200': json(ref('ContactMessagePage'), 'A page of the history (empty when there is none)'),
            ...errors(400, 401, 500),
          },
        },
      },
      ...importPaths(),
      ...campaignPaths(),
      ...senderPaths(),
      ...accessPaths(),
      ...erasurePaths(),
      '/v1/contacts': {
        get: {
          operationId: 'listContacts',
          summary: "The tenant's contacts in phone order, optionally narrowed",
          security: bearer,
          parameters: [
            ...limitCursorParams,
            {
              name: 'tag',
              in: 'query',
              required: false,
              description: 'Contacts with this tag',
              schema: { type: 'string' },
            },
            {
              name: 'groupId',
              in: 'query',
              required: false,
              description: "This group's members (404 if there is no such group)",
              schema: { type: 'string' },
            },
            {
              name: 'q',
              in: 'query',
              required: false,
              description:
                'A phone prefix (+97250, 97250) or a name prefix (case and accents aside; a name just set may take a moment to be found)',
              schema: { type: 'string', maxLength: 100 },
            },
          ],
          responses: {
            '200': json(
              ref('ContactPage'),
              'A page of contacts. With tag (or q as a name within a group), a page may hold fewer than limit, even none, and still have a nextCursor: follow it until it is absent',
            ),
            ...errors(400, 401, 404, 500),
          },
        },
      },
      '/v1/contacts/{phone}': {
        put: {
          operationId: 'upsertContact',
          summary: 'Create or update a contact: given fields replace, attributes merge, tags add',
          security: bearer,
          parameters: [phoneParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('ContactRequest') } } },
          responses: {
            '200': json(ref('Contact'), 'The contact as stored'),
            ...errors(400, 401, 413, 415, 500),
          },
        },
        get: {
          operationId: 'getContact',
          security: bearer,
          parameters: [phoneParam],
          responses: { '200': json(ref('Contact'), 'The contact'), ...errors(400, 401, 404, 500) },
        },
        delete: {
          operationId: 'eraseContact',
          summary:
            'Erase a contact: the contact, its group memberships (counts moved) and the text of its messages to this tenant; a suppression of the number stays',
          security: bearer,
          parameters: [phoneParam],
          responses: { '204': noContent('Erased'), ...errors(400, 401, 404, 500) },
        },
      },
      '/v1/groups': {
        post: {
          operationId: 'createGroup',
          security: bearer,
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'The same key within 24 hours returns the same group (Idempotent-Replayed: true); with another body, 409 IDEMPOTENCY_CONFLICT',
              schema: { type: 'string', maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
            },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: ref('GroupRequest') } } },
          responses: { '201': json(ref('Group'), 'Created'), ...errors(400, 401, 409, 413, 415, 500) },
        },
        get: {
          operationId: 'listGroups',
          summary: "The tenant's groups, newest first",
          security: bearer,
          parameters: limitCursorParams,
          responses: { '200': json(ref('GroupPage'), 'A page of groups'), ...errors(400, 401, 500) },
        },
      },
      '/v1/groups/{id}': {
        get: {
          operationId: 'getGroup',
          security: bearer,
          parameters: [groupIdParam],
          responses: { '200': json(ref('Group'), 'The group'), ...errors(400, 401, 404, 500) },
        },
        delete: {
          operationId: 'deleteGroup',
          summary:
            'Delete a group (its contacts stay). It is gone for the API at once; the memberships of a large group are removed in the background',
          security: bearer,
          parameters: [groupIdParam],
          responses: { '204': noContent('Deleted'), ...errors(400, 401, 404, 500) },
        },
      },
      '/v1/groups/{id}/members': {
        post: {
          operationId: 'addGroupMembers',
          summary: `Add up to ${MAX_MEMBERS_PER_REQUEST} phones (unknown ones become contacts); each counted once`,
          security: bearer,
          parameters: [groupIdParam],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('AddMembersRequest') } },
          },
          responses: {
            '200': json(
              ref('AddMembersResponse'),
              'Added, already members, and the phones that are not valid',
            ),
            ...errors(400, 401, 404, 413, 415, 500),
          },
        },
        get: {
          operationId: 'listGroupMembers',
          summary: "The group's members (contacts) in phone order, as JSON or a CSV export",
          security: bearer,
          parameters: [groupIdParam, ...limitCursorParams, formatParam],
          responses: {
            '200': jsonOrCsv(
              ref('ContactPage'),
              'A page of members',
              'columns phone, name, tags (", " between them), language, timeZone, consent, consentSource, consentAt, suppressed, createdAt, updatedAt, then one per attribute key; the CSV import reads this file back',
            ),
            ...errors(400, 401, 404, 500),
          },
        },
      },
      '/v1/groups/{id}/members/{phone}': {
        delete: {
          operationId: 'removeGroupMember',
          security: bearer,
          parameters: [groupIdParam, phoneParam],
          responses: { '204': noContent('Removed (the contact stays)'), ...errors(400, 401, 404, 500) },
        },
      },
      '/v1/templates': {
        get: {
          operationId: 'listTemplates',
          summary:
            "The Twilio account's Content templates with their WhatsApp approval, newest first (account-wide: every tenant sees the same)",
          security: bearer,
          parameters: [...limitCursorParams, ...templateFilterParams],
          responses: {
            '200': json(ref('TemplatePage'), 'A page of templates'),
            ...errors(400, 401, 500, 503),
          },
        },
      },
      '/v1/templates/{contentSid}': {
        get: {
          operationId: 'getTemplate',
          security: bearer,
          parameters: [contentSidParam],
          responses: {
            '200': json(ref('Template'), 'The template'),
            ...errors(400, 401, 404, 500, 503),
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'health',
          security: open,
          summary: 'Healthy when the main table and the send queue answer a read within 2 s each',
          responses: {
            '200': json(ref('Health'), 'Healthy'),
            '503': json(
              ref('Error'),
              'DEPENDENCY_UNAVAILABLE: details name each dependency that did not answer ({ dependency, message })',
            ),
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openApiDocument',
          security: open,
          responses: { '200': json({ type: 'object' }, 'This document') },
        },
      },
      ...webhookPaths(),
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <api-key>' },
      },
      schemas: { ...componentSchemas(), ...campaignSchemas(), ...accessSchemas() },
      responses: errorResponses(),
    },
  };
  withAccessAnswers(doc.paths as Record<string, Json>);
  if (serverUrl) doc.servers = [{ url: serverUrl }];
  return doc;
}

let cached: Json | undefined;

/**
 * The OpenAPI 3.1 document. Built once per process (the schemas are static); with `serverUrl`,
 * a fresh copy carrying `servers: [{ url }]`. Treat the result as read-only.
 */
export function openApiDocument(options: { serverUrl?: string } = {}): Json {
  if (options.serverUrl) return build(options.serverUrl);
  cached ??= build();
  return cached;
}
