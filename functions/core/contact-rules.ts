import type { AttributeValue, Consent, Contact, ContactUpsert } from './audience.ts';
import { ApiError } from './errors.ts';
import { whatsAppIdentity } from './phones.ts';
import { defaultTimeZone } from './time-zones.ts';

/**
 * What a contact may hold and how an upsert changes a stored one (API.md Contacts; the port's
 * ContactUpsert rules): pure functions the store and the routes share, no AWS.
 *
 * Merge rules: the fields given replace the stored ones (`name: ''` clears the name); `attributes`
 * are merged key by key (`removeAttributes` drops keys); `tags` are added to the stored ones in
 * order, without repeats (`removeTags` drops some); `groupIds` are added (memberships; the store
 * moves the counts); `timeZone` defaults from the number's country on creation only; `consent`
 * defaults to `{ status: 'unknown' }`. A change that leaves every field as it was is no change:
 * `updatedAt` stays (a re-import writes nothing).
 */

/**
 * An attribute key: it becomes a `{{key}}` placeholder in template variables, so a letter of any
 * script first, then letters, marks, digits or `_` (`city`, `first_name`, `עיר`, `नाम`), at most 64.
 * No spaces, braces or `|` (the placeholder syntax, core/templates.ts), and never `__proto__`.
 */
export const ATTRIBUTE_KEY_PATTERN = /^\p{L}[\p{L}\p{M}\p{N}_]{0,63}$/u;
/**
 * Keys (compared case-insensitively) that name a contact's own field: a placeholder `{{name}}` is
 * the contact's name, and a CSV export's column of that name reads back as that field (or, for
 * `mobile`, `whatsapp` and `number`, as the phone) when the file is imported again.
 */
export const RESERVED_ATTRIBUTE_KEYS: ReadonlySet<string> = new Set([
  'phone',
  'mobile',
  'whatsapp',
  'number',
  'name',
  'tags',
  'language',
  'timezone',
  'consent',
  'consentsource',
  'consentat',
  'suppressed',
  'groupids',
  'createdat',
  'updatedat',
]);

/** Whether `key` may be an attribute's key (pattern, not reserved). */
export function isAttributeKey(key: string): boolean {
  return ATTRIBUTE_KEY_PATTERN.test(key) && !RESERVED_ATTRIBUTE_KEYS.has(key.toLowerCase());
}
export const MAX_ATTRIBUTES = 100;
/** Characters of a string attribute value: a WhatsApp template parameter holds at most 1,024. */
export const MAX_ATTRIBUTE_VALUE_LENGTH = 1024;
export const MAX_TAGS = 50;
export const MAX_TAG_LENGTH = 64;
/** A tag is text without the separators a CSV `tags` cell splits on (`,` `;`) or control characters. */
export const TAG_PATTERN = /^[^,;\p{Cc}]+$/u;
export const MAX_CONTACT_NAME_LENGTH = 200;
export const MAX_CONSENT_SOURCE_LENGTH = 100;
/**
 * The most a stored contact may weigh, in DynamoDB's own measure (contactItemBytes). DynamoDB takes
 * items up to 400 KB, and one TransactWriteItems up to 4 MB (AWS DynamoDB API reference,
 * TransactWriteItems); at 64 KB, the 49 contacts of one membership transaction (dynamo-contacts.ts)
 * always fit in one, with room for their memberships.
 */
export const MAX_CONTACT_BYTES = 64 * 1024;

/** The extension of the port's upsert that the PUT route takes: removals. */
export interface ContactChange extends ContactUpsert {
  /** Attribute keys to drop (the route's `attributes: { key: null }`). */
  readonly removeAttributes?: readonly string[];
  /** Tags to drop. */
  readonly removeTags?: readonly string[];
}

/** A contact an upsert cannot make: more than the limits above allow. 400 or 413, naming the phone. */
export class ContactLimitError extends ApiError {
  readonly phone: string;
  constructor(code: 'VALIDATION_FAILED' | 'PAYLOAD_TOO_LARGE', phone: string, path: string, message: string) {
    // The phone is in the details, not the message: messages may reach logs, phones must not.
    super(code, `The contact is over a limit: ${message}`, [{ path, message, phone }]);
    this.name = 'ContactLimitError';
    this.phone = phone;
  }
}

/**
 * The contact after `change` (created when `existing` is undefined) and whether anything changed.
 * Throws ContactLimitError when the result would break a limit (too many attributes or tags after
 * the merge, or over MAX_CONTACT_BYTES).
 */
export function mergeContact(
  tenantId: string,
  existing: Contact | undefined,
  change: ContactChange,
  at: Date,
): { contact: Contact; changed: boolean } {
  const phone = whatsAppIdentity(change.phone);
  const attributes: Record<string, AttributeValue> = { ...(existing?.attributes ?? {}) };
  for (const [key, value] of Object.entries(change.attributes ?? {})) attributes[key] = value;
  for (const key of change.removeAttributes ?? []) delete attributes[key];
  const removeTags = new Set(change.removeTags ?? []);
  const tags = [...new Set([...(existing?.tags ?? []), ...(change.tags ?? [])])].filter(
    (tag) => !removeTags.has(tag),
  );
  const groupIds = [...new Set([...(existing?.groupIds ?? []), ...(change.groupIds ?? [])])];
  const name = change.name !== undefined ? change.name.trim() || undefined : existing?.name;
  const language = change.language ?? existing?.language;
  const now = at.toISOString();
  const draft: Contact = {
    tenantId,
    phone,
    ...(name !== undefined ? { name } : {}),
    attributes: sortedKeys(attributes),
    tags,
    ...(language !== undefined ? { language } : {}),
    timeZone: change.timeZone ?? existing?.timeZone ?? defaultTimeZone(phone),
    consent: mergedConsent(existing?.consent, change.consent),
    groupIds,
    createdAt: existing?.createdAt ?? now,
    updatedAt: existing?.updatedAt ?? now,
  };
  const changed = !existing || !sameContent(existing, draft);
  const contact = changed ? { ...draft, updatedAt: now } : existing;
  checkLimits(contact);
  return { contact, changed };
}

function checkLimits(contact: Contact): void {
  const attributeCount = Object.keys(contact.attributes).length;
  if (attributeCount > MAX_ATTRIBUTES)
    throw new ContactLimitError(
      'VALIDATION_FAILED',
      contact.phone,
      'attributes',
      `a contact holds at most ${MAX_ATTRIBUTES} attributes (this one would have ${attributeCount}); remove some with "key": null`,
    );
  if (contact.tags.length > MAX_TAGS)
    throw new ContactLimitError(
      'VALIDATION_FAILED',
      contact.phone,
      'tags',
      `a contact holds at most ${MAX_TAGS} tags (this one would have ${contact.tags.length}); remove some with removeTags`,
    );
  const bytes = contactItemBytes(contact);
  if (bytes > MAX_CONTACT_BYTES)
    throw new ContactLimitError(
      'PAYLOAD_TOO_LARGE',
      contact.phone,
      '',
      `the contact would take ${bytes} bytes, over the ${MAX_CONTACT_BYTES} a contact may hold; shorten its attributes`,
    );
}

/** Whether two contacts hold the same data (timestamps aside). */
function sameContent(a: Contact, b: Contact): boolean {
  const { createdAt: _c1, updatedAt: _u1, ...left } = a;
  const { createdAt: _c2, updatedAt: _u2, ...right } = b;
  return canonicalJson(left) === canonicalJson(right);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? sortedKeys(v as Record<string, unknown>) : v,
  );
}

function sortedKeys<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The size DynamoDB bills and limits an item by, for a contact as the store keeps it (with its keys
 * and index attributes: a fixed allowance of 256 bytes). DynamoDB developer guide, "DynamoDB item
 * sizes and formats": names and strings count their UTF-8 bytes, a number about 1 byte per two
 * significant digits plus 1, a boolean 1, a list or map 3 bytes plus 1 per element.
 */
export function contactItemBytes(contact: Contact): number {
  const KEYS_AND_INDEX_ALLOWANCE = 256;
  return KEYS_AND_INDEX_ALLOWANCE + valueBytes(contact);
}

function valueBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number')
    return Math.ceil(String(Math.abs(value)).replace(/[.e+-]/g, '').length / 2) + 1;
  if (typeof value === 'boolean' || value === null) return 1;
  if (Array.isArray(value)) return 3 + value.reduce<number>((sum, v) => sum + 1 + valueBytes(v), 0);
  if (value && typeof value === 'object')
    return (
      3 +
      Object.entries(value).reduce<number>(
        (sum, [k, v]) => sum + 1 + Buffer.byteLength(k, 'utf8') + valueBytes(v),
        0,
      )
    );
  return 0;
}

/**
 * A name as the name search compares it: NFKD without marks (diacritics, Hebrew points), lower
 * case, spaces folded; `Dána  Levi` → `dana levi`. At most 100 characters.
 */
export function foldName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/\s+/gu, ' ')
    .trim()
    .slice(0, 100);
}

/**
 * The consent a change leaves. A consent record says when and how the person opted in, so restating
 * the status it already has (a re-import of the same file, a form sent twice) keeps the first record;
 * a new status replaces it.
 */
function mergedConsent(existing: Consent | undefined, change: Consent | undefined): Consent {
  if (!change) return existing ?? { status: 'unknown' };
  if (existing && existing.status === change.status) return existing;
  return change;
}
