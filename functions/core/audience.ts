/**
 * A tenant's audience: its contacts (an address book keyed by E.164 phone) and groups of them
 * (API.md, "Audiences, templates, campaigns (v1.1)"). Types and the ports their stores implement;
 * no AWS here.
 */

/** A contact attribute's value: typed, as a spreadsheet cell or a JSON body gives it. */
export type AttributeValue = string | number | boolean;

/** Whether the person agreed to receive marketing (WhatsApp's opt-in policy); `unknown` by default. */
export interface Consent {
  readonly status: 'opted_in' | 'unknown';
  /** Where it was given: `import`, `web_form`, `api`, a free text. */
  readonly source?: string;
  /** ISO-8601 UTC. */
  readonly at?: string;
}

export interface Contact {
  readonly tenantId: string;
  /** E.164, as phones.ts normalizes it. */
  readonly phone: string;
  readonly name?: string;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly tags: readonly string[];
  /** BCP 47 (`he`, `es-MX`). */
  readonly language?: string;
  /** IANA zone; defaults from the number's country. */
  readonly timeZone: string;
  readonly consent: Consent;
  /** The tenant's groups this contact is a member of (`grp_…`). */
  readonly groupIds: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * One contact to create or update: the fields given replace the stored ones, `attributes` are
 * merged key by key, `tags` are added to the stored ones, `groupIds` become memberships (each
 * counted once in its group's memberCount). Fields not given are kept.
 */
export interface ContactUpsert {
  /** E.164 (already normalized by the caller). */
  readonly phone: string;
  readonly name?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
  readonly tags?: readonly string[];
  readonly language?: string;
  readonly timeZone?: string;
  readonly consent?: Consent;
  readonly groupIds?: readonly string[];
}

export interface Group {
  readonly tenantId: string;
  /** `grp_` + ULID. */
  readonly groupId: string;
  readonly name: string;
  readonly description?: string;
  /** Exact: moved in the same transaction as each membership. */
  readonly memberCount: number;
  readonly createdAt: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

/** The tenant's contacts. Every method is scoped to the tenant: another tenant's contact is never read. */
export interface Contacts {
  get(tenantId: string, phone: string): Promise<Contact | undefined>;
  /** Creates or updates one contact (API PUT /v1/contacts/{phone}). */
  upsert(tenantId: string, contact: ContactUpsert, at: Date): Promise<{ contact: Contact; created: boolean }>;
  /**
   * Creates or updates up to 100 contacts with distinct phones (one import batch), memberships and
   * group counts included. Idempotent: the same batch applied twice leaves the same contacts and
   * counts (a repeat counts its rows as `updated`). Throws when a named group does not exist.
   */
  upsertMany(
    tenantId: string,
    contacts: readonly ContactUpsert[],
    at: Date,
  ): Promise<{ created: number; updated: number }>;
  /** Phone order; `q` is a phone or (case-insensitive) name prefix. */
  list(
    tenantId: string,
    filter: { tag?: string; groupId?: string; q?: string },
    page: { limit: number; cursor?: string },
  ): Promise<Page<Contact>>;
  /** Erases the contact and its memberships (counts moved); false when there was none. */
  erase(tenantId: string, phone: string): Promise<boolean>;
  /**
   * The contacts of these phones that exist (strongly consistent), by their stored phone: a
   * broadcast to an audience fills `{{name}}` and `{{attribute}}` values from them.
   */
  getMany(tenantId: string, phones: readonly string[]): Promise<Map<string, Contact>>;
}

/** The tenant's groups and their memberships. */
export interface Groups {
  create(group: Omit<Group, 'memberCount'>): Promise<Group>;
  get(tenantId: string, groupId: string): Promise<Group | undefined>;
  list(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<Group>>;
  /** Deletes the group and its memberships (the contacts stay); false when there was none. */
  delete(tenantId: string, groupId: string): Promise<boolean>;
  /** Adds members (unknown phones become contacts); each phone counted once. */
  addMembers(
    tenantId: string,
    groupId: string,
    phones: readonly string[],
    at: Date,
  ): Promise<{ added: number; alreadyMembers: number }>;
  removeMember(tenantId: string, groupId: string, phone: string): Promise<boolean>;
  /**
   * A page of the group's members' phones in phone order, without reading the contacts: how a
   * broadcast to a group walks it (Contacts.list with `groupId` gives the contacts themselves).
   */
  memberPhones(
    tenantId: string,
    groupId: string,
    page: { limit: number; cursor?: string },
  ): Promise<Page<string>>;
}

/**
 * A write named a group that does not exist for this tenant, or is being deleted (`upsertMany`,
 * `addMembers`). Checked before anything is written, so nothing of the call was; a group deleted
 * while a call is being written stops it at that transaction (those before it stay, each whole).
 */
export class GroupNotFoundError extends Error {
  readonly groupId: string;
  constructor(groupId: string) {
    super(`Group ${groupId} does not exist`);
    this.name = 'GroupNotFoundError';
    this.groupId = groupId;
  }
}
