import { adminRoute } from './commons/admin-route.ts';
import { acceptBroadcast } from './commons/broadcast-creation.ts';
import { maxRecipients } from './commons/broadcast-planning.ts';
import { header, json, parseJson } from './commons/http.ts';
import { parseCreateBroadcast, parseIdempotencyKey } from './core/broadcast-request.ts';

/**
 * POST /v1/broadcasts: the body checked (core/broadcast-request.ts), then accepted
 * (commons/broadcast-creation.ts): 202 with the proof of what was accepted and what not.
 */
export const handler = adminRoute(async (event, tenantId) => {
  const input = parseCreateBroadcast(parseJson(event), { maxRecipients: maxRecipients() });
  const idempotencyKey = parseIdempotencyKey(header(event, 'idempotency-key'));
  return json(202, await acceptBroadcast(tenantId, input, idempotencyKey ? { idempotencyKey } : {}));
});
