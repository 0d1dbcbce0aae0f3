import type { Contact, Contacts } from '../core/audience.ts';
import { whatsAppIdentity } from '../core/phones.ts';
import type { PlanDeps } from './plan-broadcast.ts';

/** Contacts read per page while an audience is resolved (a Query returns at most 1 MB anyway). */
const PAGE = 1000;
/** Phones looked up per getMany call (it reads them 100 keys per BatchGetItem). */
const LOOKUP = 1000;
/**
 * A list of at least this many phones first tries reading the tenant's whole address book: one
 * Query page of up to PAGE contacts costs one request and a read unit per 4 KB, a lookup one unit
 * per phone (100 per BatchGetItem), found or not (DynamoDB's read units: read-write-operations.html).
 */
const BOOK_READ_FROM = LOOKUP;
/** The whole book is read while it holds at most this share of the list's phones; past it, lookups. */
const BOOK_SHARE = 0.1;

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
      const book =
        phones.length >= BOOK_READ_FROM ? await smallBook(contacts, tenantId, phones.length) : undefined;
      if (book) {
        // The same answer as the lookups: the contacts whose key (the WhatsApp identity) a phone has.
        const wanted = new Set(phones.map(whatsAppIdentity));
        return new Map(book.filter((c) => wanted.has(whatsAppIdentity(c.phone))).map((c) => [c.phone, c]));
      }
      const found = new Map<string, Contact>();
      for (let i = 0; i < phones.length; i += LOOKUP)
        for (const [phone, contact] of await contacts.getMany(tenantId, phones.slice(i, i + LOOKUP)))
          found.set(phone, contact);
      return found;
    },
  };
}

/**
 * The tenant's whole address book (strongly consistent, as the lookups), when it holds at most
 * BOOK_SHARE of `listed` phones; undefined as soon as it proves larger. A shop that sends to a
 * 100,000-phone list with 2,000 contacts reads 2 pages instead of 1,000 batches of lookups; a book too
 * big for that costs at most a tenth of the lookups it then makes anyway.
 */
async function smallBook(
  contacts: Contacts,
  tenantId: string,
  listed: number,
): Promise<Contact[] | undefined> {
  const most = Math.floor(listed * BOOK_SHARE);
  const book: Contact[] = [];
  let cursor: string | undefined;
  do {
    const page = await contacts.list(
      tenantId,
      {},
      { limit: Math.min(PAGE, most + 1 - book.length), ...(cursor ? { cursor } : {}) },
    );
    book.push(...page.items);
    if (book.length > most) return undefined;
    cursor = page.nextCursor;
  } while (cursor);
  return book;
}
