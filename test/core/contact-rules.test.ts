import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTE_KEY_PATTERN,
  ContactLimitError,
  contactItemBytes,
  foldName,
  MAX_CONTACT_BYTES,
  mergeContact,
} from '../../functions/core/contact-rules.ts';

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));

describe('mergeContact', () => {
  it('keeps the first consent record when the same status is restated (a re-import), replaces it on a new status', () => {
    const first = { status: 'opted_in' as const, source: 'web_form', at: at(0).toISOString() };
    const { contact } = mergeContact('t', undefined, { phone: '+972501234567', consent: first }, at(0));
    const again = mergeContact(
      't',
      contact,
      { phone: '+972501234567', consent: { status: 'opted_in', source: 'import', at: at(5).toISOString() } },
      at(5),
    );
    expect(again.changed).toBe(false);
    expect(again.contact.consent).toEqual(first);
    const withdrawn = mergeContact(
      't',
      contact,
      { phone: '+972501234567', consent: { status: 'unknown' } },
      at(6),
    );
    expect(withdrawn.contact.consent).toEqual({ status: 'unknown' });
  });

  it('creates with defaults, then replaces given fields, merges attributes, adds tags', () => {
    const { contact: created, changed } = mergeContact(
      't',
      undefined,
      { phone: '+972501234567', name: ' Dana ' },
      at(0),
    );
    expect(changed).toBe(true);
    expect(created).toMatchObject({
      name: 'Dana',
      timeZone: 'Asia/Jerusalem',
      consent: { status: 'unknown' },
      tags: [],
    });
    const { contact } = mergeContact(
      't',
      { ...created, attributes: { a: 1, b: 'x' }, tags: ['north'] },
      {
        phone: '+972501234567',
        attributes: { b: 'y', c: true },
        tags: ['vip', 'north'],
        removeAttributes: ['a'],
      },
      at(1),
    );
    expect(contact).toMatchObject({ name: 'Dana', attributes: { b: 'y', c: true }, tags: ['north', 'vip'] });
    expect(contact.updatedAt).toBe(at(1).toISOString());
    expect(mergeContact('t', contact, { phone: contact.phone, name: '' }, at(2)).contact).not.toHaveProperty(
      'name',
    );
  });

  it('is no change when nothing differs (updatedAt kept)', () => {
    const { contact } = mergeContact('t', undefined, { phone: '+972501234567', tags: ['a'] }, at(0));
    const again = mergeContact('t', contact, { phone: contact.phone, tags: ['a'], attributes: {} }, at(5));
    expect(again.changed).toBe(false);
    expect(again.contact.updatedAt).toBe(at(0).toISOString());
  });

  it('refuses more than 100 attributes or 50 tags after the merge, and over 64 KB', () => {
    const { contact } = mergeContact(
      't',
      undefined,
      {
        phone: '+972501234567',
        attributes: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])),
      },
      at(0),
    );
    expect(() =>
      mergeContact('t', contact, { phone: contact.phone, attributes: { extra: 1 } }, at(1)),
    ).toThrow(ContactLimitError);
    const tags = Array.from({ length: 51 }, (_, i) => `t${i}`);
    expect(() => mergeContact('t', undefined, { phone: '+972501234567', tags }, at(0))).toThrow(
      /at most 50 tags/,
    );
    const heavy = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'ע'.repeat(1024)]));
    const error = (() => {
      try {
        mergeContact('t', undefined, { phone: '+972501234567', attributes: heavy }, at(0));
      } catch (e) {
        return e as ContactLimitError;
      }
    })();
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413, phone: '+972501234567' });
    expect(contactItemBytes(contact)).toBeLessThan(MAX_CONTACT_BYTES);
  });
});

describe('attribute keys and names', () => {
  it('takes letters of any script, digits and _ as keys; refuses spaces, braces and a leading digit or _', () => {
    for (const ok of ['city', 'first_name', 'עיר', 'नाम', 'plot2'])
      expect(ATTRIBUTE_KEY_PATTERN.test(ok), ok).toBe(true);
    for (const bad of ['first name', '{{x}}', '2plots', '__proto__', 'a|b', '', 'x'.repeat(65)])
      expect(ATTRIBUTE_KEY_PATTERN.test(bad), bad).toBe(false);
  });

  it('folds names for the prefix search: case, accents and Hebrew points aside', () => {
    expect(foldName('  Dána   LEVI ')).toBe('dana levi');
    expect(foldName('שָׁלוֹם')).toBe('שלום');
  });
});
