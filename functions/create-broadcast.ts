import { adminRoute } from './commons/admin-route.ts';
import { acceptTestSend } from './commons/broadcast-control.ts';
import { acceptBroadcast } from './commons/broadcast-creation.ts';
import { maxRecipients } from './commons/broadcast-planning.ts';
import { header, json, parseJson } from './commons/http.ts';
import { parseCreateBroadcast, parseIdempotencyKey } from './core/broadcast-request.ts';
import { parseTestSend } from './core/test-send.ts';

/**
 * POST /v1/broadcasts: the body checked (core/broadcast-request.ts), then accepted
 * (commons/broadcast-creation.ts): 202 with the proof of what was accepted and what not.
 * POST /v1/broadcasts/test-send: the same body plus testPhones (core/test-send.ts), sent to those
 * phones only as a broadcast marked test (commons/broadcast-control.ts).
 */
export const handler = adminRoute(async (event, tenantId) => {
  const idempotencyKey = parseIdempotencyKey(header(event, 'idempotency-key'));
  const options = idempotencyKey ? { idempotencyKey } : {};
  if (event.routeKey === 'POST /v1/broadcasts/test-send') {
    const { input, testPhones } = parseTestSend(parseJson(event), { maxRecipients: maxRecipients() });
    return json(202, await acceptTestSend(tenantId, input, testPhones, options));
  }
  const input = parseCreateBroadcast(parseJson(event), { maxRecipients: maxRecipients() });
  return json(202, await acceptBroadcast(tenantId, input, options));
});
