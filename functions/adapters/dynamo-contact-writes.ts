import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Contact, GroupNotFoundError } from '../core/audience.ts';
import { type ContactChange, mergeContact } from '../core/contact-rules.ts';
import { whatsAppIdentity } from '../core/phones.ts';
import {
  contactItem,
  contactKey,
  groupKey,
  memberCountChange,
  membershipKey,
  type StoredContact,
  toGroup,
  toStoredContact,
} from './dynamo-audience-layout.ts';
import { batchGet, type TransactItems, transactWrite } from './dynamo-items.ts';

/**
 * Contact upserts with their group memberships, in transactions that keep every group's
 * memberCount exact (the layout's rule, dynamo-audience-layout.ts).
 *
 * One TransactWriteItems holds at most 100 actions and 4 MB (AWS DynamoDB API reference,
 * TransactWriteItems). Each written contact is one Put (conditional on the version read, or on not
 * existing yet), each new membership one Put (conditional on not existing), and each group touched
 * one Update adding the number of its new memberships (conditional on the group being active). So
 * a batch of contacts joining one group takes 49 contacts per transaction (49 + 49 + 1 = 99
 * actions; 49 contacts of at most 64 KB are 3.1 MB). Transactions run one after another: they all
 * update the same group item, and concurrent ones would only cancel each other (TransactionConflict).
 *
 * A transaction cancelled by a condition (a concurrent writer changed a contact, added the same
 * membership, or deleted the group) is planned again from fresh reads, so the outcome is what a
 * one-at-a-time run would have written; a group found gone throws GroupNotFoundError. A contact
 * whose merge changes nothing and that joins no group is not written at all (a re-import costs
 * reads only).
 */

/** One TransactWriteItems holds at most 100 actions (AWS DynamoDB API reference, TransactWriteItems). */
export const TRANSACT_LIMIT = 100;
/** Groups one contact may join in one call: its Put, its memberships and their counts in one transaction. */
export const MAX_GROUPS_PER_CHANGE = (TRANSACT_LIMIT - 1) >> 1;
/** Times a transaction is planned again after a concurrent writer's change cancelled it. */
const REPLANS = 8;

export interface ContactOutcome {
  readonly contact: Contact;
  /** The contact did not exist before. */
  readonly created: boolean;
  /** Groups it joined (memberships written and counted by this call). */
  readonly joined: readonly string[];
}

interface Planned {
  readonly change: ContactChange;
  readonly stored: StoredContact | undefined;
  readonly contact: Contact;
  readonly write: boolean;
  readonly joined: readonly string[];
}

/**
 * Applies `changes` (distinct phones, already normalized) for the tenant and says what each did, in
 * input order. Every named group must exist (GroupNotFoundError, checked before anything is
 * written); a contact that would break a limit throws ContactLimitError before anything is written.
 */
export async function applyContactChanges(
  db: DynamoDBDocumentClient,
  table: string,
  tenantId: string,
  changes: readonly ContactChange[],
  at: Date,
): Promise<ContactOutcome[]> {
  const phones = changes.map((c) => whatsAppIdentity(c.phone));
  if (new Set(phones).size !== phones.length) throw new Error('applyContactChanges: phones must be distinct');
  const crowded = changes.find((c) => new Set(c.groupIds ?? []).size > MAX_GROUPS_PER_CHANGE);
  if (crowded)
    throw new Error(`applyContactChanges: a contact joins at most ${MAX_GROUPS_PER_CHANGE} groups per call`);
  const groupIds = [...new Set(changes.flatMap((c) => c.groupIds ?? []))];
  await requireGroups(db, table, tenantId, groupIds);

  // Every merge first: a contact over a limit refuses the whole batch before any write.
  let plans = plan(tenantId, changes, await readContacts(db, table, tenantId, phones), at);
  const outcomes = new Map<string, ContactOutcome>();
  for (const p of plans.filter((p) => !p.write)) outcomes.set(p.contact.phone, outcome(p));
  plans = plans.filter((p) => p.write);

  while (plans.length > 0) {
    const chunk = takeChunk(plans);
    plans = plans.slice(chunk.length);
    for (const done of await writeChunk(db, table, tenantId, chunk, at))
      outcomes.set(done.contact.phone, done);
  }
  return phones.map((phone) => outcomes.get(phone) as ContactOutcome);
}

/** The contacts as stored now (strongly consistent), by phone. */
export async function readContacts(
  db: DynamoDBDocumentClient,
  table: string,
  tenantId: string,
  phones: readonly string[],
): Promise<Map<string, StoredContact>> {
  const items = await batchGet(
    db,
    table,
    phones.map((phone) => contactKey(tenantId, phone)),
  );
  return new Map(items.map((item) => [String(item.sk), toStoredContact(item)]));
}

async function requireGroups(
  db: DynamoDBDocumentClient,
  table: string,
  tenantId: string,
  groupIds: readonly string[],
): Promise<void> {
  if (groupIds.length === 0) return;
  const found = new Set(
    (
      await batchGet(
        db,
        table,
        groupIds.map((id) => groupKey(tenantId, id)),
      )
    )
      .map(toGroup)
      .flatMap((g) => (g ? [g.groupId] : [])),
  );
  const missing = groupIds.find((id) => !found.has(id));
  if (missing) throw new GroupNotFoundError(missing);
}

function plan(
  tenantId: string,
  changes: readonly ContactChange[],
  stored: ReadonlyMap<string, StoredContact>,
  at: Date,
  /** Memberships found already there although the contact did not list them (healed, not counted). */
  present: ReadonlySet<string> = new Set(),
): Planned[] {
  return changes.map((change) => {
    const before = stored.get(whatsAppIdentity(change.phone));
    const { contact, changed } = mergeContact(tenantId, before?.contact, change, at);
    const had = new Set(before?.contact.groupIds ?? []);
    const joined = contact.groupIds.filter((g) => !had.has(g) && !present.has(`${contact.phone}|${g}`));
    return { change, stored: before, contact, write: changed || joined.length > 0, joined };
  });
}

/** The longest prefix of `plans` whose actions fit one transaction (always at least one contact). */
function takeChunk(plans: readonly Planned[]): Planned[] {
  const groups = new Set<string>();
  let actions = 0;
  let taken = 0;
  for (const p of plans) {
    const newGroups = p.joined.filter((g) => !groups.has(g));
    const cost = 1 + p.joined.length + newGroups.length;
    if (taken > 0 && actions + cost > TRANSACT_LIMIT) break;
    for (const g of newGroups) groups.add(g);
    actions += cost;
    taken++;
  }
  return plans.slice(0, taken);
}

/** Writes one chunk, planning it again from fresh reads when a concurrent change cancels it. */
async function writeChunk(
  db: DynamoDBDocumentClient,
  table: string,
  tenantId: string,
  chunk: readonly Planned[],
  at: Date,
): Promise<ContactOutcome[]> {
  let planned = chunk;
  const present = new Set<string>();
  for (let attempt = 0; attempt < REPLANS; attempt++) {
    const roles: Role[] = [];
    const items = transaction(table, tenantId, planned, at, roles);
    const result = await transactWrite(db, items);
    if (result.written) return planned.map(outcome);
    // What the failed conditions say: a group gone is final; the rest is a concurrent writer.
    for (const [index, failed] of result.failed.entries()) {
      if (!failed) continue;
      const role = roles[index];
      if (role?.kind === 'group') {
        await requireGroups(db, table, tenantId, [role.groupId]);
      } else if (role?.kind === 'membership') present.add(`${role.phone}|${role.groupId}`);
    }
    const changes = planned.map((p) => p.change);
    const fresh = await readContacts(
      db,
      table,
      tenantId,
      planned.map((p) => p.contact.phone),
    );
    const replanned = plan(tenantId, changes, fresh, at, present);
    // Contacts a concurrent writer already brought to this state need no write now.
    const done = replanned.filter((p) => !p.write).map(outcome);
    planned = replanned.filter((p) => p.write);
    if (planned.length === 0) return done;
    if (done.length > 0) return [...done, ...(await writeChunk(db, table, tenantId, planned, at))];
  }
  throw new Error(`Contacts kept changing under a write of ${planned.length} contacts; try again`);
}

type Role =
  | { kind: 'contact'; phone: string }
  | { kind: 'membership'; phone: string; groupId: string }
  | { kind: 'group'; groupId: string };

function transaction(
  table: string,
  tenantId: string,
  planned: readonly Planned[],
  at: Date,
  roles: Role[],
): TransactItems {
  const items: TransactItems = [];
  const joinedPerGroup = new Map<string, number>();
  for (const p of planned) {
    items.push({
      Put: {
        TableName: table,
        Item: contactItem(p.contact, (p.stored?.version ?? 0) + 1),
        ...(p.stored
          ? {
              ConditionExpression: '#version = :version',
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: { ':version': p.stored.version },
            }
          : { ConditionExpression: 'attribute_not_exists(pk)' }),
      },
    });
    roles.push({ kind: 'contact', phone: p.contact.phone });
    for (const groupId of p.joined) {
      items.push({
        Put: {
          TableName: table,
          Item: {
            ...membershipKey(tenantId, groupId, p.contact.phone),
            tenantId,
            groupId,
            phone: p.contact.phone,
            addedAt: at.toISOString(),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
      roles.push({ kind: 'membership', phone: p.contact.phone, groupId });
      joinedPerGroup.set(groupId, (joinedPerGroup.get(groupId) ?? 0) + 1);
    }
  }
  for (const [groupId, joined] of joinedPerGroup) {
    items.push(memberCountChange(table, tenantId, groupId, joined));
    roles.push({ kind: 'group', groupId });
  }
  return items;
}

function outcome(p: Planned): ContactOutcome {
  return { contact: p.contact, created: !p.stored, joined: p.write ? p.joined : [] };
}
