import { DynamoAuditLog } from './adapters/dynamo-audit.ts';
import { adminRoute } from './commons/admin-route.ts';
import { requiredEnv } from './commons/config.ts';
import { json } from './commons/http.ts';
import { dynamoDocumentClient } from './commons/wiring.ts';
import { AuditQuery } from './core/access-requests.ts';
import { parseListQuery } from './core/broadcast-request.ts';

let log: DynamoAuditLog | undefined;

/**
 * GET /v1/audit (admin keys only): the tenant's audit log, newest first, paged, optionally only one
 * `action` or one `keyId`. A filtered page may hold fewer entries than `limit` (even none) with a
 * `nextCursor`: follow it until it is absent.
 */
export const handler = adminRoute(async (event, tenantId) => {
  const query = parseListQuery(AuditQuery, event.queryStringParameters);
  log ??= new DynamoAuditLog(dynamoDocumentClient(), requiredEnv('TABLE_NAME'));
  return json(200, await log.list(tenantId, query));
});
