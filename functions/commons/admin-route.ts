import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DynamoApiKeys } from '../adapters/dynamo-api-keys.ts';
import { DynamoAuditLog } from '../adapters/dynamo-audit.ts';
import { DynamoRateLimiter } from '../adapters/dynamo-rate-limit.ts';
import {
  auditEntryFor,
  auditExpiresAt,
  checkRole,
  DEFAULT_AUDIT_RETENTION_DAYS,
  DEFAULT_TENANT_RATE_LIMIT,
  type RouteAccess,
  tenantRateLimited,
} from '../core/access.ts';
import type { ApiKeyIdentity } from '../core/access-ports.ts';
import { bearerKey, hashApiKey } from '../core/api-keys.ts';
import { checkRouteQuery } from '../core/broadcast-request.ts';
import { ApiError, statusOf } from '../core/errors.ts';
import { intEnv, requiredEnv } from './config.ts';
import { serviceMetrics } from './emf-metrics.ts';
import { errorResponse } from './http.ts';
import { logger } from './powertools.ts';
import { dynamoDocumentClient } from './wiring.ts';

export type AdminHandler = (
  event: APIGatewayProxyEventV2,
  tenantId: string,
  caller: ApiKeyIdentity,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * Milliseconds a resolved key is trusted by this Lambda container before it is read again: a
 * revoked (or rotated) key is refused everywhere at most this long after the change (API.md: within
 * 5 s). The price is one consistent GetItem (0.5 read unit) per key per container every 2 s.
 */
export const KEY_CACHE_MS = 2_000;
/** A key's lastUsedAt is written at most this often per container (one write a minute, not one per request). */
const LAST_USED_EVERY_MS = 60_000;
const keyCache = new Map<string, { identity: ApiKeyIdentity; until: number }>();
const lastTouched = new Map<string, number>();
let keys: DynamoApiKeys | undefined;
let audit: DynamoAuditLog | undefined;
let limiter: DynamoRateLimiter | undefined;

const table = () => requiredEnv('TABLE_NAME');

/** The caller's key (tenant, key id, role), from `Authorization: Bearer <key>`; a 401 ApiError otherwise. */
export async function authenticate(event: APIGatewayProxyEventV2, now = Date.now()): Promise<ApiKeyIdentity> {
  const hash = hashApiKey(bearerKey(event.headers?.authorization));
  const cached = keyCache.get(hash);
  if (cached && cached.until > now) return cached.identity;
  keys ??= new DynamoApiKeys(dynamoDocumentClient(), table());
  const identity = await keys.identify(hash);
  if (!identity) {
    keyCache.delete(hash);
    throw new ApiError('UNAUTHORIZED', 'This API key is not valid (unknown, revoked or rotated).');
  }
  keyCache.set(hash, { identity, until: now + KEY_CACHE_MS });
  if ((lastTouched.get(identity.keyId) ?? 0) + LAST_USED_EVERY_MS <= now) {
    lastTouched.set(identity.keyId, now);
    await keys.touch(identity.tenantId, identity.keyId, new Date(now)).catch((error: unknown) => {
      logger.warn('could not record the key as used', { error: error as Error, keyId: identity.keyId });
    });
  }
  return identity;
}

/**
 * The tenant's fixed one-second window (TENANT_RATE_LIMIT requests/s across its keys; 0: off):
 * 429 RATE_LIMITED with `Retry-After: 1` over it. A DynamoDB failure here lets the request through
 * (logged): the limit protects other tenants, it must not take the API down with the counter.
 */
async function checkRateLimit(tenantId: string): Promise<void> {
  const limit = intEnv('TENANT_RATE_LIMIT', DEFAULT_TENANT_RATE_LIMIT);
  if (limit <= 0) return;
  limiter ??= new DynamoRateLimiter(dynamoDocumentClient(), table());
  let allowed = true;
  try {
    allowed = await limiter.take(tenantId, Date.now(), limit);
  } catch (error) {
    logger.warn('rate limit window unavailable; request let through', { error: error as Error });
  }
  if (!allowed) throw tenantRateLimited(limit);
}

/**
 * The audit entry of a successful write. A failure to write it does not fail the request (the
 * change is made; an error answer would invite a retry that makes it twice): it is logged as an
 * error and counted (metric AuditWriteFailures), so an alarm can say entries are missing.
 */
async function recordAudit(
  event: APIGatewayProxyEventV2,
  access: RouteAccess,
  caller: ApiKeyIdentity,
  result: APIGatewayProxyStructuredResultV2,
): Promise<void> {
  const statusCode = result.statusCode ?? 200;
  if (event.routeKey.startsWith('GET ') || statusCode < 200 || statusCode > 299) return;
  let body: unknown;
  try {
    body = typeof result.body === 'string' && result.body ? JSON.parse(result.body) : undefined;
  } catch {
    body = undefined;
  }
  const at = new Date();
  const entry = auditEntryFor(access, {
    at,
    keyId: caller.keyId,
    statusCode,
    pathParameters: event.pathParameters ?? null,
    body,
  });
  if (!entry) return;
  try {
    audit ??= new DynamoAuditLog(dynamoDocumentClient(), table());
    const days = intEnv('AUDIT_RETENTION_DAYS', DEFAULT_AUDIT_RETENTION_DAYS);
    await audit.append(caller.tenantId, entry, auditExpiresAt(at, days));
  } catch (error) {
    logger.error('audit write failed', {
      error: error as Error,
      action: entry.action,
      resource: entry.resource,
      keyId: entry.keyId,
    });
    // The service's one EMF mechanism (commons/emf-metrics.ts): its lines carry the level Lambda keeps.
    serviceMetrics.record('AuditWriteFailures', 1, {});
    serviceMetrics.flush();
  }
}

/**
 * An admin route: authenticates the key, counts the request against its tenant's rate limit, checks
 * the key's role against the route's (core/access.ts ROUTE_ACCESS, by routeKey: 403 FORBIDDEN
 * before anything is read or written), refuses query parameters the route does not take
 * (ROUTE_QUERIES), runs the handler, writes the audit entry of a successful write, and answers
 * every error in API.md's shape (an unexpected one as INTERNAL, logged, never with its stack).
 */
export function adminRoute(handler: AdminHandler) {
  return middy(async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      const caller = await authenticate(event);
      logger.appendKeys({ tenantId: caller.tenantId, keyId: caller.keyId });
      await checkRateLimit(caller.tenantId);
      const access = checkRole(event.routeKey, caller.role);
      checkRouteQuery(event.routeKey, event.queryStringParameters);
      const result = await handler(event, caller.tenantId, caller);
      await recordAudit(event, access, caller, result);
      return result;
    } catch (error) {
      const status = statusOf(error);
      if (status >= 500) logger.error('request failed', { error: error as Error, routeKey: event.routeKey });
      else logger.info('request refused', { code: (error as ApiError).code, routeKey: event.routeKey });
      return errorResponse(error);
    }
  }).use(injectLambdaContext(logger, { resetKeys: true }));
}
