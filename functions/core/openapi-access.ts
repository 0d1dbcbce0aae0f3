import { AUDIT_ACTIONS, ROLES, ROUTE_ACCESS } from './access.ts';
import { bearer, errors, type Json, json, limitCursorParams, ref } from './openapi-parts.ts';

/**
 * The OpenAPI paths and schemas of API keys and the audit log (openapi.ts spreads them into the
 * document), and the answers every admin route may give beyond its own: 403 FORBIDDEN (the key's
 * role) and 429 RATE_LIMITED (the tenant's limit), with each operation's required role.
 */

const KEY_ID_PATTERN = '^key_[0-9A-Za-z]{16,32}$';
const keyIdParam: Json = {
  name: 'keyId',
  in: 'path',
  required: true,
  description: 'The key id (key_…), as GET /v1/api-keys lists it',
  schema: { type: 'string', pattern: KEY_ID_PATTERN },
};

export function accessSchemas(): Record<string, Json> {
  const role = { type: 'string', enum: [...ROLES] };
  const keyFields: Record<string, Json> = {
    keyId: { type: 'string', pattern: KEY_ID_PATTERN },
    name: { type: 'string' },
    role,
    createdAt: { type: 'string', format: 'date-time' },
  };
  return {
    CreateApiKeyRequest: {
      type: 'object',
      required: ['name', 'role'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 100, description: 'Who or what uses the key' },
        role: {
          ...role,
          description:
            'viewer: reads; sender: also sends, pauses, resumes, cancels, retries, and runs campaigns and the address book; admin: also keys, suppressions, settings, contact erasure and the audit log',
        },
      },
    },
    CreatedApiKey: {
      type: 'object',
      required: ['keyId', 'name', 'role', 'apiKey', 'createdAt'],
      properties: {
        ...keyFields,
        apiKey: {
          type: 'string',
          description: 'The secret: shown in this answer only (stored as its SHA-256)',
        },
        rotatedAt: { type: 'string', format: 'date-time' },
      },
    },
    ApiKey: {
      type: 'object',
      required: ['keyId', 'name', 'role', 'createdAt'],
      properties: {
        ...keyFields,
        createdBy: {
          type: 'string',
          description: 'The admin key that made it; absent for CLI-made and seeded keys',
        },
        lastUsedAt: { type: 'string', format: 'date-time', description: 'To the minute' },
        rotatedAt: { type: 'string', format: 'date-time' },
        revokedAt: { type: 'string', format: 'date-time' },
      },
    },
    ApiKeyPage: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: ref('ApiKey') }, nextCursor: { type: 'string' } },
    },
    AuditEntry: {
      type: 'object',
      required: ['at', 'keyId', 'action', 'detail'],
      properties: {
        at: { type: 'string', format: 'date-time' },
        keyId: { type: 'string', description: 'The key that made the change' },
        action: { type: 'string', enum: [...AUDIT_ACTIONS] },
        resource: {
          type: 'string',
          description: 'What was changed: its id (brd_…, cmp_…, key_…), or a masked phone (+*******4567)',
        },
        detail: {
          type: 'object',
          description: 'statusCode, and a few fields of the answer (never a phone number or a secret)',
          additionalProperties: { type: ['string', 'number', 'boolean'] },
        },
      },
    },
    AuditPage: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: ref('AuditEntry') }, nextCursor: { type: 'string' } },
    },
  };
}

export function accessPaths(): Record<string, Json> {
  return {
    '/v1/api-keys': {
      post: {
        operationId: 'createApiKey',
        summary: 'A new API key of this tenant, with a name and a role; its secret is in this answer only',
        security: bearer,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('CreateApiKeyRequest') } },
        },
        responses: {
          '201': json(ref('CreatedApiKey'), 'The key and its secret'),
          ...errors(400, 401, 415, 500),
        },
      },
      get: {
        operationId: 'listApiKeys',
        summary: "The tenant's API keys, revoked ones included; never a secret",
        security: bearer,
        parameters: limitCursorParams,
        responses: { '200': json(ref('ApiKeyPage'), 'A page of keys'), ...errors(400, 401, 500) },
      },
    },
    '/v1/api-keys/{keyId}': {
      delete: {
        operationId: 'revokeApiKey',
        summary: 'Revokes the key: refused (401) everywhere within 5 seconds. Again: 204',
        description:
          "The tenant's last active admin key cannot be revoked (409 INVALID_STATE): create another admin key first.",
        security: bearer,
        parameters: [keyIdParam],
        responses: { '204': { description: 'Revoked' }, ...errors(400, 401, 404, 409, 500) },
      },
    },
    '/v1/api-keys/{keyId}/rotate': {
      post: {
        operationId: 'rotateApiKey',
        summary: 'A new secret for the key (same id, name, role); the old secret is refused within 5 seconds',
        security: bearer,
        parameters: [keyIdParam],
        responses: {
          '200': json(ref('CreatedApiKey'), 'The key and its new secret'),
          ...errors(400, 401, 404, 409, 500),
        },
      },
    },
    '/v1/audit': {
      get: {
        operationId: 'listAudit',
        summary: "The tenant's audit log: every successful write, newest first",
        description:
          'A filtered page may hold fewer entries than limit, even none, with a nextCursor: follow it until it is absent.',
        security: bearer,
        parameters: [
          ...limitCursorParams,
          {
            name: 'action',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: [...AUDIT_ACTIONS] },
          },
          {
            name: 'keyId',
            in: 'query',
            required: false,
            schema: { type: 'string', pattern: KEY_ID_PATTERN },
          },
        ],
        responses: { '200': json(ref('AuditPage'), 'A page of entries'), ...errors(400, 401, 500) },
      },
    },
  };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/**
 * Adds to every admin operation its required role (`x-required-role`, and a line of its
 * description), 403 FORBIDDEN and 429 RATE_LIMITED. Mutates and returns `paths`.
 */
export function withAccessAnswers(paths: Record<string, Json>): Record<string, Json> {
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      const access = ROUTE_ACCESS[`${method.toUpperCase()} ${path}`];
      if (!op || !access) continue;
      op['x-required-role'] = access.role;
      op.description = `${op.description ? `${op.description} ` : ''}Needs a ${access.role} key (or a higher role).`;
      op.responses = { ...(op.responses as Json), ...errors(403, 429) };
    }
  }
  return paths;
}
