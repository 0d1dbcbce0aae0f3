import { adminRoute } from './commons/admin-route.ts';
import { contactViews } from './commons/audience-exports.ts';
import { json, parseJson } from './commons/http.ts';
import { pathPhone } from './commons/phone-path.ts';
import { logger } from './commons/powertools.ts';
import { contactStore, contacts, groups } from './commons/wiring.ts';
import { ContactListQuery, ContactRequest, contactChange } from './core/audience-request.ts';
import { parseListQuery } from './core/broadcast-request.ts';
import { ApiError, fromZodError } from './core/errors.ts';
import { isGroupId } from './core/ids.ts';
import { maskPhone } from './core/phones.ts';

/**
 * The tenant's contacts (API.md Contacts): PUT, GET and DELETE /v1/contacts/{phone}, and the list
 * GET /v1/contacts?tag=&groupId=&q=. Everything is scoped to the caller's tenant: another tenant's
 * contact is a 404 and is never changed.
 *
 * PUT is an upsert and idempotent: the same body again leaves the same contact (tags are a set,
 * attributes a merge), and a body that changes nothing does not even move `updatedAt`.
 * DELETE is an erasure: the contact, its memberships (each group's count moved), and the text of
 * what the person wrote to this tenant (their inbound history entries keep time and SIDs); a
 * suppression of the number stays, so an erased person who opted out is still never messaged.
 */
export const handler = adminRoute(async (event, tenantId) => {
  const book = contacts();
  switch (event.routeKey) {
    case 'PUT /v1/contacts/{phone}': {
      const phone = pathPhone(event, { stored: false });
      const parsed = ContactRequest.safeParse(parseJson(event));
      if (!parsed.success) throw fromZodError(parsed.error);
      const now = new Date();
      const { contact, created } = await book.upsert(tenantId, contactChange(phone, parsed.data, now), now);
      logger.info(created ? 'contact created' : 'contact updated', { phone: maskPhone(contact.phone) });
      const [view] = await contactViews(tenantId, [contact]);
      return json(200, view);
    }
    case 'GET /v1/contacts/{phone}': {
      const phone = pathPhone(event);
      const contact = await book.get(tenantId, phone);
      if (!contact) throw new ApiError('NOT_FOUND', `No contact ${phone} for this API key.`);
      const [view] = await contactViews(tenantId, [contact]);
      return json(200, view);
    }
    case 'DELETE /v1/contacts/{phone}': {
      const phone = pathPhone(event);
      // The history's text first: a retry after a failure finds the contact still there and erases again.
      const erasedMessages = await contactStore().eraseHistoryText(tenantId, phone, new Date());
      const erased = await book.erase(tenantId, phone);
      if (!erased && erasedMessages === 0)
        throw new ApiError('NOT_FOUND', `No contact ${phone} for this API key.`);
      logger.info('contact erased', { phone: maskPhone(phone), contact: erased, erasedMessages });
      return { statusCode: 204 };
    }
    case 'GET /v1/contacts': {
      const query = parseListQuery(ContactListQuery, event.queryStringParameters);
      if (
        query.groupId !== undefined &&
        !(isGroupId(query.groupId) && (await groups().get(tenantId, query.groupId)))
      )
        throw new ApiError('NOT_FOUND', `No group ${query.groupId} for this API key.`);
      const page = await book.list(
        tenantId,
        {
          ...(query.tag !== undefined ? { tag: query.tag } : {}),
          ...(query.groupId !== undefined ? { groupId: query.groupId } : {}),
          ...(query.q !== undefined ? { q: query.q } : {}),
        },
        { limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) },
      );
      return json(200, {
        items: await contactViews(tenantId, page.items),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});
