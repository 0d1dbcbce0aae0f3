import { describe, expect, it } from 'vitest';
import type { Contact, Contacts } from '../functions/core/audience.ts';
import { audienceReads } from '../functions/use-cases/audience-source.ts';

/**
 * Which of a listed broadcast's phones are the tenant's contacts (their values, time zone and consent
 * come from the contact): read from the whole address book when it is small next to the list, else
 * looked up phone by phone. Either way the same contacts, and the reads a DynamoDB bill would show.
 */

const phoneOf = (n: number) => `+97250${String(1_000_000 + n).padStart(7, '0')}`;

function contact(phone: string): Contact {
  return {
    tenantId: 'acme',
    phone,
    name: `Grower ${phone.slice(-4)}`,
    attributes: {},
    tags: [],
    timeZone: 'Asia/Jerusalem',
    consent: { status: 'unknown' },
    groupIds: [],
    createdAt: '2026-11-30T00:00:00.000Z',
    updatedAt: '2026-11-30T00:00:00.000Z',
  };
}

/** An address book in memory with the port's list (phone order, pages) and getMany, counting reads. */
function addressBook(count: number) {
  const book = Array.from({ length: count }, (_, n) => contact(phoneOf(n * 3)));
  const reads = { listedContacts: 0, listPages: 0, lookedUp: 0 };
  const port = {
    async list(_tenantId: string, _filter: object, page: { limit: number; cursor?: string }) {
      const from = page.cursor ? Number(page.cursor) : 0;
      const items = book.slice(from, from + page.limit);
      reads.listPages++;
      reads.listedContacts += items.length;
      const next = from + items.length;
      return { items, ...(next < book.length ? { nextCursor: String(next) } : {}) };
    },
    async getMany(_tenantId: string, phones: readonly string[]) {
      reads.lookedUp += phones.length;
      const wanted = new Set(phones);
      return new Map(book.filter((c) => wanted.has(c.phone)).map((c) => [c.phone, c]));
    },
  } as unknown as Contacts;
  return { port, reads };
}

const listOf = (count: number) => Array.from({ length: count }, (_, n) => phoneOf(n));

describe('the contacts among a broadcast’s listed phones', () => {
  it('reads a small address book whole instead of looking up 2,000 phones, with the same contacts', async () => {
    const { port, reads } = addressBook(150); // phones 0, 3, …, 447: 150 of the list's 2,000
    const found = await audienceReads(port).contactsAmong('acme', listOf(2000));
    expect(reads).toEqual({ listedContacts: 150, listPages: 1, lookedUp: 0 });
    expect([...found.keys()].sort()).toEqual(Array.from({ length: 150 }, (_, n) => phoneOf(n * 3)).sort());
    expect(found.get(phoneOf(3))?.name).toBe(`Grower ${phoneOf(3).slice(-4)}`);
  });

  it('looks the phones up once the book proves larger than a tenth of the list, and reads no more of it', async () => {
    const { port, reads } = addressBook(5000);
    const found = await audienceReads(port).contactsAmong('acme', listOf(2000));
    // It stopped after 201 contacts (a tenth of 2,000, plus the one that proved it larger).
    expect(reads).toEqual({ listedContacts: 201, listPages: 1, lookedUp: 2000 });
    expect(found.size).toBe(667); // 0, 3, …, 1998
  });

  it('looks a short list up directly, never reading the book', async () => {
    const { port, reads } = addressBook(3);
    const found = await audienceReads(port).contactsAmong('acme', [phoneOf(0), phoneOf(1), phoneOf(3)]);
    expect(reads).toEqual({ listedContacts: 0, listPages: 0, lookedUp: 3 });
    expect([...found.keys()]).toEqual([phoneOf(0), phoneOf(3)]);
  });

  it('reads a book over several pages when it needs them', async () => {
    const { port, reads } = addressBook(1500);
    const found = await audienceReads(port).contactsAmong('acme', listOf(20_000));
    expect(reads).toEqual({ listedContacts: 1500, listPages: 2, lookedUp: 0 });
    expect(found.size).toBe(1500);
  });
});
