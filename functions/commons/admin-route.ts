import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DynamoApiKeys } from '../adapters/dynamo-api-keys.ts';
import { bearerKey, hashApiKey } from '../core/api-keys.ts';
import { checkRouteQuery } from '../core/broadcast-request.ts';
import { ApiError, statusOf } from '../core/errors.ts';
import { requiredEnv } from './config.ts';
import { errorResponse } from './http.ts';
import { logger } from './powertools.ts';
import { dynamoDocumentClient } from './wiring.ts';

export type AdminHandler = (
  event: APIGatewayProxyEventV2,
  tenantId: string,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * Seconds a resolved key is trusted by this Lambda container before it is looked up again:
 * the cost of a revocation reaching every warm container.
 */
const KEY_CACHE_SECONDS = 60;
const keyCache = new Map<string, { tenantId: string; until: number }>();
let keys: DynamoApiKeys | undefined;

/** The caller's tenant, from `Authorization: Bearer <key>`; a 401 ApiError otherwise. */
export async function authenticate(event: APIGatewayProxyEventV2, now = Date.now()): Promise<string> {
  const hash = hashApiKey(bearerKey(event.headers?.authorization));
  const cached = keyCache.get(hash);
  if (cached && cached.until > now) return cached.tenantId;
  keys ??= new DynamoApiKeys(dynamoDocumentClient(), requiredEnv('TABLE_NAME'));
  const tenantId = await keys.tenantOf(hash);
  if (!tenantId) {
    keyCache.delete(hash);
    throw new ApiError('UNAUTHORIZED', 'This API key is not valid (unknown or revoked).');
  }
  keyCache.set(hash, { tenantId, until: now + KEY_CACHE_SECONDS * 1000 });
  return tenantId;
}

/**
 * An admin route: authenticates the tenant, refuses query parameters the route does not take
 * (ROUTE_QUERIES), runs the handler with the tenant, and answers every error in API.md's shape
 * (an unexpected one as INTERNAL, logged, never with its stack).
 */
export function adminRoute(handler: AdminHandler) {
  return middy(async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      const tenantId = await authenticate(event);
      logger.appendKeys({ tenantId });
      checkRouteQuery(event.routeKey, event.queryStringParameters);
      return await handler(event, tenantId);
    } catch (error) {
      const status = statusOf(error);
      if (status >= 500) logger.error('request failed', { error: error as Error, routeKey: event.routeKey });
      else logger.info('request refused', { code: (error as ApiError).code, routeKey: event.routeKey });
      return errorResponse(error);
    }
  }).use(injectLambdaContext(logger, { resetKeys: true }));
}
