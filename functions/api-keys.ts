import { DynamoApiKeys } from './adapters/dynamo-api-keys.ts';
import { adminRoute } from './commons/admin-route.ts';
import { requiredEnv } from './commons/config.ts';
import { json, parseJson } from './commons/http.ts';
import { logger } from './commons/powertools.ts';
import { dynamoDocumentClient } from './commons/wiring.ts';
import { CreateApiKeyRequest } from './core/access-requests.ts';
import { hashApiKey, isKeyId, newApiKey, newKeyId } from './core/api-keys.ts';
import { PageQuery, parseListQuery } from './core/broadcast-request.ts';
import { ApiError, fromZodError } from './core/errors.ts';

let store: DynamoApiKeys | undefined;
const keys = () => {
  store ??= new DynamoApiKeys(dynamoDocumentClient(), requiredEnv('TABLE_NAME'));
  return store;
};

const notFound = () => new ApiError('NOT_FOUND', 'No such API key.');

/**
 * The tenant's API keys (API.md "API keys, roles, audit"), admin keys only (core/access.ts):
 * - POST /v1/api-keys `{ name, role }` → 201 `{ keyId, name, role, apiKey, createdAt }`: the secret is
 *   in this answer only; the table keeps its SHA-256.
 * - GET /v1/api-keys: the keys, revoked ones included, never a secret or a hash; paged.
 * - DELETE /v1/api-keys/{keyId} → 204: refused (401) everywhere within KEY_CACHE_MS (2 s); again:
 *   204. The tenant's last active admin key cannot be revoked (409 INVALID_STATE): no lockout.
 * - POST /v1/api-keys/{keyId}/rotate → 200 with a new secret (same id, name, role); the old secret is
 *   refused like a revoked one. Rotating never leaves the tenant without an admin (the new secret
 *   is in the answer), so the last admin key may be rotated.
 * Another tenant's key id is a 404.
 */
export const handler = adminRoute(async (event, tenantId, caller) => {
  const now = new Date();
  switch (event.routeKey) {
    case 'POST /v1/api-keys': {
      const parsed = CreateApiKeyRequest.safeParse(parseJson(event));
      if (!parsed.success) throw fromZodError(parsed.error);
      const apiKey = newApiKey();
      const view = await keys().create(
        { tenantId, keyId: newKeyId(now.getTime()), ...parsed.data, createdBy: caller.keyId },
        hashApiKey(apiKey),
        now,
      );
      logger.info('api key created', { newKeyId: view.keyId, role: view.role });
      return json(201, {
        keyId: view.keyId,
        name: view.name,
        role: view.role,
        apiKey,
        createdAt: view.createdAt,
      });
    }
    case 'GET /v1/api-keys': {
      const query = parseListQuery(PageQuery, event.queryStringParameters);
      return json(200, await keys().list(tenantId, query));
    }
    case 'DELETE /v1/api-keys/{keyId}': {
      const keyId = event.pathParameters?.keyId;
      if (!isKeyId(keyId)) throw notFound();
      const outcome = await keys().revoke(tenantId, keyId, now);
      if (outcome === 'not_found') throw notFound();
      if (outcome === 'last_admin')
        throw new ApiError(
          'INVALID_STATE',
          "This is the tenant's last active admin key: revoking it would leave nobody able to manage keys. Create another admin key first (POST /v1/api-keys with role admin), or rotate this one.",
          [{ message: 'last active admin key', keyId }],
        );
      logger.info('api key revoked', { revokedKeyId: keyId, outcome });
      return { statusCode: 204, body: '' };
    }
    case 'POST /v1/api-keys/{keyId}/rotate': {
      const keyId = event.pathParameters?.keyId;
      if (!isKeyId(keyId)) throw notFound();
      const apiKey = newApiKey();
      const view = await keys().rotate(tenantId, keyId, hashApiKey(apiKey), now);
      if (!view) {
        const exists = (await keys().list(tenantId, { limit: 500 })).items.some((k) => k.keyId === keyId);
        if (!exists) throw notFound();
        throw new ApiError('INVALID_STATE', 'This API key is revoked: a revoked key cannot be rotated.', [
          { message: 'revoked', keyId },
        ]);
      }
      logger.info('api key rotated', { rotatedKeyId: keyId });
      return json(200, { ...view, apiKey });
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});
