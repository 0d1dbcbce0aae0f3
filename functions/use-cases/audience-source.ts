import type { Contact, Contacts } from '../core/audience.ts';
import type { PlanDeps } from './plan-broadcast.ts';

/** Contacts read per page while an audience is resolved (a Query returns at most 1 MB anyway). */
const PAGE = 1000;
/** Phones looked up per getMany call (it reads them 100 keys per BatchGetItem). */
const LOOKUP = 1000;

/**
 * PlanDeps' audience reads over the Contacts port: each group's members and each tag's contacts,
 * page by page (a contact in two of them is yielded twice; the plan keeps the first), and the
 * contacts among listed phones.
 */
export function audienceReads(contacts: Contacts): Pick<PlanDeps, 'audienceMembers' | 'contactsAmong'> {
  return {
    async *audienceMembers(tenantId, audience) {
      const filters = [
        ...audience.groupIds.map((groupId) => ({ groupId })),
        ...audience.tags.map((tag) => ({ tag })),
      ];
      for (const filter of filters) {
        let cursor: string | undefined;
        do {
          const page = await contacts.list(tenantId, filter, { limit: PAGE, ...(cursor ? { cursor } : {}) });
          yield page.items;
          cursor = page.nextCursor;
        } while (cursor);
      }
    },
    async contactsAmong(tenantId, phones) {
      const found = new Map<string, Contact>();
      for (let i = 0; i < phones.length; i += LOOKUP)
        for (const [phone, contact] of await contacts.getMany(tenantId, phones.slice(i, i + LOOKUP)))
          found.set(phone, contact);
      return found;
    },
  };
}
