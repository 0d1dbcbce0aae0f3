import type { AttributeValue, Consent, Contact, Group } from '../core/audience.ts';
import { foldName } from '../core/contact-rules.ts';
import { literal } from '../core/cursor.ts';
import { whatsAppIdentity } from '../core/phones.ts';
import type { Item } from './dynamo-items.ts';

/**
 * A tenant's audience on the main table (pk / sk), next to the broadcasts (table-layout.ts) and the
 * suppressions and message history (dynamo-contact-store.ts):
 *
 *   CONTACTS#<t>          <phone>        a contact: name, attributes, tags, language, timeZone, consent,
 *                                        groupIds (a string set), version; namePk / nameSk when named
 *   GROUPS#<t>            <grp_…>        a group: name, description, memberCount; deletingAt while its
 *                                        memberships are being removed (then it is gone for the API)
 *   GROUP#<t>#<grp_…>     <phone>        a membership: { tenantId, groupId, phone, addedAt }
 *   IDEM#<t>#<key>        GROUP          POST /v1/groups Idempotency-Key → the group it created (24 h)
 *
 *   index contactsByName: namePk = CONTACTNAME#<t>, nameSk = <folded name>#<phone>
 *
 * Phones are keyed by their WhatsApp identity (phones.ts whatsAppIdentity), as the suppression list
 * and the history are: a contact, its suppression and its messages are found by the same key, and
 * `+52 1 55…` / `+52 55…` are one contact. A tenant's contacts are one item collection in phone
 * order (a phone-prefix search is a key condition); a group's members are one item collection in
 * phone order too, so the members list and the CSV export page by key, never by scanning.
 *
 * Exact member counts: a membership is only ever written in the same TransactWriteItems as its
 * group's `memberCount` change (conditional: a membership put that finds one there cancels the
 * whole transaction) and its contact's `groupIds`, so a retry, a duplicate, a crash or two
 * concurrent adds can never count one membership twice or lose one (dynamo-contact-writes.ts).
 * The contact item carries a `version`; every write of it is conditional on the version it read
 * (or bumps it), so concurrent read-modify-writes of one contact cannot lose each other's changes.
 *
 * Names are searched through the sparse contactsByName index (only named contacts are in it), by
 * prefix of the folded name (core/contact-rules.ts foldName); it is eventually consistent, so a
 * contact named a moment ago may take a moment to be found by name (DynamoDB GSIs, typically
 * under a second).
 */
export const contactsPk = (tenantId: string) => `CONTACTS#${tenantId}`;
export const groupsPk = (tenantId: string) => `GROUPS#${tenantId}`;
export const membersPk = (tenantId: string, groupId: string) => `GROUP#${tenantId}#${groupId}`;
export const contactNamePk = (tenantId: string) => `CONTACTNAME#${tenantId}`;
export const groupIdemKey = (tenantId: string, key: string) => ({
  pk: `IDEM#${tenantId}#${key}`,
  sk: 'GROUP',
});
export const CONTACT_NAME_INDEX = 'contactsByName';

export const contactKey = (tenantId: string, phone: string) => ({
  pk: contactsPk(tenantId),
  sk: whatsAppIdentity(phone),
});
export const groupKey = (tenantId: string, groupId: string) => ({ pk: groupsPk(tenantId), sk: groupId });
export const membershipKey = (tenantId: string, groupId: string, phone: string) => ({
  pk: membersPk(tenantId, groupId),
  sk: whatsAppIdentity(phone),
});

/** A phone sort key: E.164 as stored. */
export const PHONE_SK = /^\+[0-9]{1,20}$/;
/** A phone sort key under a prefix (`+97250…`): a cursor must stay inside the range being read. */
export const phoneSkWithin = (prefix: string) => new RegExp(`^${literal(prefix)}[0-9]{0,20}$`);
/** A name index sort key under a folded-name prefix: `<name>#<phone>`. */
export const nameSkWithin = (prefix: string) => new RegExp(`^${literal(prefix)}[^]{0,200}#\\+[0-9]{1,20}$`);
export const GROUP_SK = /^grp_[0-9A-HJKMNP-TV-Z]{26}$/;

/** A stored contact with the version its next write is conditional on. */
export interface StoredContact {
  readonly contact: Contact;
  readonly version: number;
}

/** The item a contact is stored as (with `version`). */
export function contactItem(contact: Contact, version: number): Item {
  return {
    ...contactKey(contact.tenantId, contact.phone),
    tenantId: contact.tenantId,
    phone: whatsAppIdentity(contact.phone),
    ...(contact.name !== undefined
      ? { name: contact.name, namePk: contactNamePk(contact.tenantId), nameSk: nameSortKey(contact) }
      : {}),
    attributes: contact.attributes,
    tags: [...contact.tags],
    ...(contact.language !== undefined ? { language: contact.language } : {}),
    timeZone: contact.timeZone,
    consent: contact.consent,
    // A string set (so a membership removal is one `DELETE groupIds :g`); DynamoDB has no empty set.
    ...(contact.groupIds.length > 0 ? { groupIds: new Set(contact.groupIds) } : {}),
    createdAt: contact.createdAt,
    updatedAt: contact.updatedAt,
    version,
  };
}

export const nameSortKey = (contact: Pick<Contact, 'name' | 'phone'>) =>
  `${foldName(contact.name ?? '')}#${whatsAppIdentity(contact.phone)}`;

/** A contact item as the domain sees it, with its version. */
export function toStoredContact(item: Item): StoredContact {
  const groupIds = item.groupIds instanceof Set ? [...(item.groupIds as Set<string>)].sort() : [];
  const contact: Contact = {
    tenantId: String(item.tenantId),
    phone: String(item.phone),
    ...(typeof item.name === 'string' ? { name: item.name } : {}),
    attributes: (item.attributes ?? {}) as Record<string, AttributeValue>,
    tags: Array.isArray(item.tags) ? (item.tags as string[]) : [],
    ...(typeof item.language === 'string' ? { language: item.language } : {}),
    timeZone: String(item.timeZone),
    consent: (item.consent ?? { status: 'unknown' }) as Consent,
    groupIds,
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
  };
  return { contact, version: Number(item.version ?? 0) };
}

/** The item a group is stored as. */
export function groupItem(group: Group): Item {
  return {
    ...groupKey(group.tenantId, group.groupId),
    tenantId: group.tenantId,
    groupId: group.groupId,
    name: group.name,
    ...(group.description !== undefined ? { description: group.description } : {}),
    memberCount: group.memberCount,
    createdAt: group.createdAt,
  };
}

/** A group item as the domain sees it; undefined while it is being deleted. */
export function toGroup(item: Item | undefined): Group | undefined {
  if (!item || item.deletingAt !== undefined) return undefined;
  return {
    tenantId: String(item.tenantId),
    groupId: String(item.groupId),
    name: String(item.name),
    ...(typeof item.description === 'string' ? { description: item.description } : {}),
    memberCount: Number(item.memberCount ?? 0),
    createdAt: String(item.createdAt),
  };
}

/** The condition every membership count change holds to: the group is there and not being deleted. */
export const GROUP_ACTIVE = 'attribute_exists(pk) AND attribute_not_exists(deletingAt)';

/**
 * The transaction item that moves a group's memberCount by `delta`, only while the group exists and
 * is not being deleted: every membership write carries one, so the count is exact.
 */
export function memberCountChange(table: string, tenantId: string, groupId: string, delta: number) {
  return {
    Update: {
      TableName: table,
      Key: groupKey(tenantId, groupId),
      UpdateExpression: 'ADD memberCount :delta',
      ConditionExpression: GROUP_ACTIVE,
      ExpressionAttributeValues: { ':delta': delta },
    },
  };
}
