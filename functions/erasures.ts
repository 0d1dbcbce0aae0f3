import { SqsTaskQueue } from './adapters/sqs-queues.ts';
import { adminRoute } from './commons/admin-route.ts';
import { requiredEnv } from './commons/config.ts';
import { json, parseJson } from './commons/http.ts';
import { invalidPhone } from './commons/phone-path.ts';
import { logger } from './commons/powertools.ts';
import { erasures, sqs } from './commons/wiring.ts';
import { PageQuery, parseListQuery } from './core/broadcast-request.ts';
import { EMPTY_PROGRESS, ErasureRequest, erasureView, isErasureId, newErasureId } from './core/erasure.ts';
import { ApiError, fromZodError } from './core/errors.ts';
import { maskPhone, normalizePhone } from './core/phones.ts';
import type { ErasureTask } from './use-cases/erase-person.ts';

/** E.164 as stored: a number on an old list that today's rules would refuse can still be erased. */
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * A person's erasure (issue 15, "Data retention"): POST /v1/erasures `{ phone }` → 202 with the
 * erasure (`erasureId`, `status: queued`); the erasures worker (functions/erase-worker.ts) does it;
 * GET /v1/erasures/{id} shows its progress. Scoped to the caller's tenant: another tenant's data for
 * the same number is never read or changed, and another tenant's erasure is a 404. The number is
 * neither logged nor stored: the task on the queue carries it, the record only its masked form.
 */
export const handler = adminRoute(async (event, tenantId) => {
  switch (event.routeKey) {
    case 'POST /v1/erasures': {
      const parsed = ErasureRequest.safeParse(parseJson(event));
      if (!parsed.success) throw fromZodError(parsed.error);
      const raw = parsed.data.phone.trim();
      const { defaultCountry } = parsed.data;
      // Digits without a country are read as international (a contact's id, +-less), unless a
      // defaultCountry says the number is national.
      const outcome = defaultCountry
        ? normalizePhone(raw, defaultCountry)
        : normalizePhone(raw.startsWith('+') || raw.startsWith('00') ? raw : `+${raw}`);
      let phone: string;
      if (outcome.ok) phone = outcome.phone;
      else if (E164.test(raw)) phone = raw;
      else throw invalidPhone('phone', outcome.reason);
      const at = new Date().toISOString();
      const erasure = {
        tenantId,
        erasureId: newErasureId(),
        status: 'queued' as const,
        phoneMasked: maskPhone(phone),
        createdAt: at,
        updatedAt: at,
        progress: EMPTY_PROGRESS,
      };
      const store = erasures();
      await store.create(erasure);
      try {
        await new SqsTaskQueue<ErasureTask>(sqs(), requiredEnv('ERASURES_QUEUE_URL')).enqueue([
          { tenantId, erasureId: erasure.erasureId, phone },
        ]);
      } catch (error) {
        // Not started: no record of an erasure that will never run.
        await store.remove(tenantId, erasure.erasureId);
        throw error;
      }
      logger.info('erasure queued', { erasureId: erasure.erasureId });
      return json(202, erasureView(erasure), { location: `/v1/erasures/${erasure.erasureId}` });
    }
    case 'GET /v1/erasures': {
      const page = await erasures().page(tenantId, parseListQuery(PageQuery, event.queryStringParameters));
      return json(200, {
        items: page.items.map(erasureView),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    }
    case 'GET /v1/erasures/{id}': {
      const id = event.pathParameters?.id;
      const erasure = isErasureId(id) ? await erasures().get(tenantId, id) : undefined;
      if (!erasure) throw new ApiError('NOT_FOUND', `No erasure ${id} for this API key.`);
      return json(200, erasureView(erasure));
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});
