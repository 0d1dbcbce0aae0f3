import pLimit from 'p-limit';
import type { Contact, Contacts } from '../core/audience.ts';
import type { PlanDeps } from './plan-broadcast.ts';

/** Contacts read per page while an audience is resolved (a Query returns at most 1 MB anyway). */
const PAGE = 500;
/** Contact reads in flight at once when the listed phones are looked up. */
const READS = 16;

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
      await pLimit(READS).map(phones, async (phone) => {
        const contact = await contacts.get(tenantId, phone);
        if (contact) found.set(phone, contact);
      });
      return found;
    },
  };
}
