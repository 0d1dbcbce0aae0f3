import pLimit from 'p-limit';
import { adminRoute } from './commons/admin-route.ts';
import { json, parseJson } from './commons/http.ts';
import { invalidPhone, pathPhone } from './commons/phone-path.ts';
import { logger } from './commons/powertools.ts';
import { broadcasts as broadcastRepository, contactStore, sendLedger } from './commons/wiring.ts';
import { PageQuery, parseListQuery } from './core/broadcast-request.ts';
import { KEEP_OPT_OUTS } from './core/contacts.ts';
import { ApiError, fromZodError } from './core/errors.ts';
import { maskPhone, normalizePhone } from './core/phones.ts';
import type { Broadcast, ContactMessage, Recipient, Suppression } from './core/ports.ts';
import {
  type ContactMessageViewShape,
  SuppressionRequest,
  type SuppressionViewShape,
} from './core/suppression-views.ts';

/** Reads of broadcasts and recipients in flight at once while a history page is shaped. */
const READ_CONCURRENCY = 16;

/**
 * The tenant's suppression list (GET, POST, DELETE /v1/suppressions) and a contact's message
 * history (GET /v1/contacts/{phone}/messages), everything scoped to the caller's tenant: another
 * tenant's suppressions and history are never read, so they can neither be seen nor changed.
 *
 * Adding a number answers 201 with the admin's entry (reason `admin`, the note, createdAt); adding
 * it again replaces the admin's entry. A number suppressed by the person's own opt-out (STOP, a
 * button; theirs for the whole sender, or this tenant's entry of it) or by Twilio's (21610, 63014)
 * keeps it, the record of why they are not messaged: 200 with that entry, as the list shows it.
 *
 * The list also shows the people who opted out of the deployment's sender (`scope: "sender"`: STOP or
 * an opt-out button, whichever tenant they answered, or none): those bind every tenant, and an admin
 * cannot remove them (409 INVALID_STATE); the person lifts them by writing START.
 */
export const handler = adminRoute(async (event, tenantId) => {
  const contacts = contactStore();
  switch (event.routeKey) {
    case 'GET /v1/suppressions': {
      const query = parseListQuery(PageQuery, event.queryStringParameters);
      const page = await contacts.listSuppressions(tenantId, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      return json(200, {
        items: page.items.map(suppressionView),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    }
    case 'POST /v1/suppressions': {
      const parsed = SuppressionRequest.safeParse(parseJson(event));
      if (!parsed.success) throw fromZodError(parsed.error);
      const request = parsed.data;
      const outcome = normalizePhone(request.phone, request.defaultCountry);
      if (!outcome.ok) throw invalidPhone('phone', outcome.reason);
      const note = request.note?.trim() ? request.note : undefined;
      const suppression: Suppression = {
        tenantId,
        phone: outcome.phone,
        reason: 'admin',
        ...(note !== undefined ? { detail: note } : {}),
        createdAt: new Date().toISOString(),
      };
      // The person's own opt-out, or Twilio's word for one, stays: it is the record of why they are
      // not messaged (and of their request). A sender-wide one is what the list shows for the number.
      const standing = await contacts.suppression(tenantId, suppression.phone);
      const kept =
        standing?.scope === 'sender' ? standing : await contacts.suppress(suppression, KEEP_OPT_OUTS);
      if (kept) {
        logger.info('number already suppressed; its entry kept', {
          phone: maskPhone(kept.phone),
          reason: kept.reason,
        });
        return json(200, suppressionView(kept));
      }
      logger.info('number suppressed', {
        phone: maskPhone(suppression.phone),
        reason: 'admin',
        note: !!note,
      });
      return json(201, suppressionView(suppression));
    }
    case 'DELETE /v1/suppressions/{phone}': {
      const phone = pathPhone(event);
      if ((await contacts.suppression(tenantId, phone))?.scope === 'sender')
        throw new ApiError(
          'INVALID_STATE',
          `${phone} opted out by writing to this sender (STOP or an opt-out button), for every tenant: only the person can lift it, by writing START.`,
          [{ path: 'scope', message: 'a sender-wide opt-out', scope: 'sender' }],
        );
      if (!(await contacts.unsuppress(tenantId, phone)))
        throw new ApiError('NOT_FOUND', `${phone} is not on this tenant's suppression list.`);
      logger.info('number unsuppressed', { phone: maskPhone(phone) });
      return json(200, { phone, removed: true });
    }
    case 'GET /v1/contacts/{phone}/messages': {
      const phone = pathPhone(event);
      const query = parseListQuery(PageQuery, event.queryStringParameters);
      const page = await contacts.listMessages(tenantId, phone, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      return json(200, {
        phone,
        items: await historyView(tenantId, page.items),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});

function suppressionView(s: Suppression): SuppressionViewShape {
  return {
    phone: s.phone,
    reason: s.reason,
    ...(s.detail !== undefined ? { detail: s.detail } : {}),
    createdAt: s.createdAt,
    scope: s.scope ?? 'tenant',
  };
}

/**
 * History entries with their live status: an outbound entry's status is its recipient's (the
 * template) or its recipient's follow-up's, read from the broadcast's ledger; each distinct
 * recipient and broadcast on the page is read once, a bounded number at a time.
 */
async function historyView(
  tenantId: string,
  entries: readonly ContactMessage[],
): Promise<ContactMessageViewShape[]> {
  const store = broadcastRepository();
  const ledger = sendLedger();
  const broadcastIds = new Set<string>();
  const recipientKeys = new Map<string, { broadcastId: string; index: number }>();
  for (const e of entries) {
    if (e.broadcastId === undefined) continue;
    broadcastIds.add(e.broadcastId);
    if (e.direction === 'outbound' && e.index !== undefined)
      recipientKeys.set(recipientId(e.broadcastId, e.index), { broadcastId: e.broadcastId, index: e.index });
  }
  const broadcasts = new Map<string, Broadcast>();
  const recipients = new Map<string, Recipient>();
  const reads: (() => Promise<void>)[] = [
    ...[...broadcastIds].map((id) => async () => {
      const b = await store.get(tenantId, id);
      if (b) broadcasts.set(id, b);
    }),
    ...[...recipientKeys].map(([id, key]) => async () => {
      const r = await ledger.get({ tenantId, ...key });
      if (r) recipients.set(id, r);
    }),
  ];
  await pLimit(READ_CONCURRENCY).map(reads, (read) => read());

  return entries.map((e) => {
    const broadcast = e.broadcastId !== undefined ? broadcasts.get(e.broadcastId) : undefined;
    const common = {
      direction: e.direction,
      type: e.type,
      at: e.at,
      messageSid: e.messageSid,
      ...(e.broadcastId !== undefined ? { broadcastId: e.broadcastId } : {}),
      ...(broadcast ? { broadcastName: broadcast.name } : {}),
    };
    if (e.direction === 'inbound')
      return {
        ...common,
        status: 'received' as const,
        ...(e.body !== undefined ? { body: e.body } : {}),
        ...(e.buttonPayload !== undefined ? { buttonPayload: e.buttonPayload } : {}),
        ...(e.repliedToSid !== undefined ? { repliedToSid: e.repliedToSid } : {}),
      };
    const recipient =
      e.broadcastId !== undefined && e.index !== undefined
        ? recipients.get(recipientId(e.broadcastId, e.index))
        : undefined;
    const ledger = e.type === 'follow_up' ? recipient?.followUp : recipient;
    const body = e.type === 'follow_up' ? broadcast?.followUp?.body : undefined;
    // The ledger keeps the latest attempt: an earlier attempt's message failed and was sent again.
    if (ledger?.messageSid && ledger.messageSid !== e.messageSid)
      return { ...common, status: 'retried', ...(body !== undefined ? { body } : {}) };
    return {
      ...common,
      status: ledger?.status ?? 'unknown',
      ...(body !== undefined ? { body } : {}),
      ...(ledger?.errorCode !== undefined ? { errorCode: ledger.errorCode } : {}),
      ...(ledger?.errorMessage !== undefined ? { errorMessage: ledger.errorMessage } : {}),
    };
  });
}

const recipientId = (broadcastId: string, index: number) => `${broadcastId}#${index}`;
