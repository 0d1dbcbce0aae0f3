import type { Contact } from '../core/audience.ts';
import type { Template } from '../core/content-templates.ts';
import { ApiError } from '../core/errors.ts';
import {
  type AcceptedRecipient,
  type InvalidRecipient,
  normalizeRecipients,
  type RecipientInput,
} from '../core/phones.ts';
import type { ChunkEntry } from '../core/ports.ts';
import type { SkipReason } from '../core/skips.ts';
import { marketingBlockedFor } from '../core/template-check.ts';
import { renderForRecipient } from '../core/templates.ts';
import type { TenantSettings } from '../core/tenant-settings.ts';

/**
 * Who a broadcast goes to, with what, and who it skips: the part of POST /v1/broadcasts that the dry
 * run (POST /v1/broadcasts/preview) shares, so the preview's figures are the send's.
 *
 * Recipients are the union of `recipients`, `audience.phones`, and the contacts of `audience.groupIds`
 * and `audience.tags`, each person once (by WhatsApp identity, phones.ts), in that order. A person's
 * template values come from, in order of precedence: the request's own `variables` for them, the
 * contact's attributes, the contact's `name` (as `{{name}}`). Contacts are read once, at create: the
 * list is frozen then (a member added a second later is not in it).
 */

export interface AudienceSpec {
  readonly groupIds?: readonly string[];
  readonly tags?: readonly string[];
  readonly phones?: readonly string[];
}

export interface PlanRequest {
  readonly tenantId: string;
  readonly recipients?: readonly RecipientInput[];
  readonly audience?: AudienceSpec;
  readonly defaultCountry?: string;
  readonly templateVariables?: Readonly<Record<string, string>>;
  /** The template as the registry has it (its WhatsApp category decides the marketing skips). */
  readonly template: Pick<Template, 'category'>;
  readonly settings: TenantSettings;
}

export interface PlanDeps {
  /** Which of these group ids the tenant does not have (another tenant's included). */
  missingGroups(tenantId: string, groupIds: readonly string[]): Promise<string[]>;
  /** The contacts of these groups and tags (each contact at least once), page by page. */
  audienceMembers(
    tenantId: string,
    audience: { groupIds: readonly string[]; tags: readonly string[] },
  ): AsyncIterable<readonly Contact[]>;
  /** The tenant's contacts among these (E.164, canonical) phones. */
  contactsAmong(tenantId: string, phones: readonly string[]): Promise<ReadonlyMap<string, Contact>>;
  /** Which of these phones the tenant may not message (its list, or the sender-wide opt-outs). */
  suppressedAmong(tenantId: string, phones: readonly string[]): Promise<Set<string>>;
}

export interface BroadcastPlan {
  /** Every valid recipient in order, index = position; skipped ones flagged with their reason. */
  readonly entries: ChunkEntry[];
  readonly invalid: InvalidRecipient[];
  readonly duplicateCount: number;
  readonly skipped: Readonly<Record<SkipReason, number>>;
  /** Entry index → the contact's IANA zone, for entries that are contacts (quiet hours). */
  readonly timeZones: ReadonlyMap<number, string>;
}

/** A contact's values for `{{…}}`: its attributes as text, and its name as `name` unless an attribute is. */
export function contactVariables(contact: Contact | undefined): Record<string, string> {
  if (!contact) return {};
  const variables: Record<string, string> = {};
  if (contact.name !== undefined) variables.name = contact.name;
  for (const [key, value] of Object.entries(contact.attributes)) variables[key] = String(value);
  return variables;
}

/**
 * The plan for a create or a dry run. Throws ApiError VALIDATION_FAILED (400, details
 * `audience.groupIds.<n>`) when a named group is not the tenant's, before reading any member; phones
 * that are not valid, and recipients whose values do not render, are in `invalid`, not thrown.
 */
export async function planBroadcast(request: PlanRequest, deps: PlanDeps): Promise<BroadcastPlan> {
  const groupIds = request.audience?.groupIds ?? [];
  const missing = groupIds.length > 0 ? await deps.missingGroups(request.tenantId, groupIds) : [];
  if (missing.length > 0)
    throw new ApiError(
      'VALIDATION_FAILED',
      `No such group: ${missing.join(', ')} (GET /v1/groups lists this tenant's groups).`,
      missing.map((id) => ({
        path: `audience.groupIds.${groupIds.indexOf(id)}`,
        message: 'no such group',
        groupId: id,
      })),
    );
  const explicit: RecipientInput[] = [...(request.recipients ?? []), ...(request.audience?.phones ?? [])];
  const normalized = normalizeRecipients(explicit, request.defaultCountry);
  const invalid = [...normalized.invalid];
  let duplicateCount = normalized.duplicateCount;

  // Group and tag members after the listed phones: a listed phone keeps its own variables.
  const people: { recipient: AcceptedRecipient; contact?: Contact }[] = normalized.accepted.map(
    (recipient) => ({
      recipient,
    }),
  );
  const seen = new Set(people.map((p) => p.recipient.phone));
  const tags = request.audience?.tags ?? [];
  if (groupIds.length > 0 || tags.length > 0) {
    for await (const page of deps.audienceMembers(request.tenantId, { groupIds, tags })) {
      for (const contact of page) {
        if (seen.has(contact.phone)) {
          duplicateCount++;
          continue;
        }
        seen.add(contact.phone);
        people.push({
          recipient: { phone: contact.phone, variables: {}, index: explicit.length + people.length },
          contact,
        });
      }
    }
  }

  const unknown = people.filter((p) => !p.contact).map((p) => p.recipient.phone);
  const [contacts, suppressed] = await Promise.all([
    unknown.length > 0 ? deps.contactsAmong(request.tenantId, unknown) : new Map<string, Contact>(),
    people.length > 0 ? deps.suppressedAmong(request.tenantId, [...seen]) : new Set<string>(),
  ]);

  const needsConsent =
    request.template.category === 'MARKETING' && request.settings.requireConsentForMarketing;
  const skipped: Record<SkipReason, number> = {
    suppressed: 0,
    marketing_not_delivered_us: 0,
    no_consent: 0,
    frequency_cap: 0,
  };
  const entries: ChunkEntry[] = [];
  const timeZones = new Map<number, string>();
  for (const { recipient, contact: member } of people) {
    const contact = member ?? contacts.get(recipient.phone);
    const variables = { ...contactVariables(contact), ...recipient.variables };
    const rendered = renderForRecipient(request.templateVariables, { ...recipient, variables });
    if (!rendered.ok) {
      invalid.push(rendered.invalid);
      continue;
    }
    const skipReason: SkipReason | undefined = suppressed.has(recipient.phone)
      ? 'suppressed'
      : marketingBlockedFor(request.template, recipient.phone)
        ? 'marketing_not_delivered_us'
        : needsConsent && contact?.consent.status !== 'opted_in'
          ? 'no_consent'
          : undefined;
    if (skipReason) skipped[skipReason]++;
    if (contact) timeZones.set(entries.length, contact.timeZone);
    entries.push({
      index: entries.length,
      phone: recipient.phone,
      contentVariables: rendered.variables,
      ...(skipReason ? { skipped: true, skipReason } : {}),
    });
  }
  return { entries, invalid, duplicateCount, skipped, timeZones };
}
