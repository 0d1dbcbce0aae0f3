import { z } from 'zod';
import type { Contact, Group } from './audience.ts';
import {
  apiSchemas,
  CountryCode,
  IsoDateTime,
  ListFormat,
  PageQuery,
  registerRouteQueries,
} from './broadcast-request.ts';
import { InvalidRecipientView, Page } from './broadcast-responses.ts';
import {
  ATTRIBUTE_KEY_PATTERN,
  type ContactChange,
  MAX_ATTRIBUTE_VALUE_LENGTH,
  MAX_ATTRIBUTES,
  MAX_CONSENT_SOURCE_LENGTH,
  MAX_CONTACT_NAME_LENGTH,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  RESERVED_ATTRIBUTE_KEYS,
  TAG_PATTERN,
} from './contact-rules.ts';
import { GROUP_ID_PREFIX } from './ids.ts';
import { canonicalTimeZone } from './time-zones.ts';

/**
 * The audience routes' shapes (API.md Contacts and Groups) as zod schemas: requests validated at the
 * edge, the OpenAPI document generated from the same objects (openapi.ts reads `apiSchemas`).
 */

/**
 * Phones per POST /v1/groups/{id}/members. Each 49 are one transaction on the group's item, run one
 * after another (dynamo-contact-writes.ts): 1,000 phones are 21 transactions, about a second on
 * DynamoDB, well inside API Gateway's 30-second integration timeout
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html). Longer
 * lists go through the CSV import (POST /v1/contacts/imports: asynchronous, with progress).
 */
export const MAX_MEMBERS_PER_REQUEST = 1000;
export const MAX_GROUP_NAME_LENGTH = 200;
export const MAX_GROUP_DESCRIPTION_LENGTH = 1000;
/** RFC 5646 §4.4.1: implementations should take language tags of at least 35 characters. */
export const MAX_LANGUAGE_TAG_LENGTH = 35;

/** Why `key` cannot be an attribute key, or undefined when it can. */
function attributeKeyProblem(key: string): string | undefined {
  if (!ATTRIBUTE_KEY_PATTERN.test(key))
    return 'an attribute key must start with a letter and hold only letters, digits and _ (at most 64): it becomes a {{key}} placeholder';
  if (RESERVED_ATTRIBUTE_KEYS.has(key.toLowerCase()))
    return `"${key}" is a contact field's name (${[...RESERVED_ATTRIBUTE_KEYS].join(', ')}): use that field, or another key`;
  return undefined;
}

const attributeValue = z
  .union([z.string().max(MAX_ATTRIBUTE_VALUE_LENGTH), z.number().finite(), z.boolean(), z.null()], {
    error: `must be a string (at most ${MAX_ATTRIBUTE_VALUE_LENGTH} characters), a number, a boolean, or null to remove the attribute`,
  })
  .meta({ description: 'null removes the attribute' });

export const Tag = z
  .string()
  .trim()
  .min(1)
  .max(MAX_TAG_LENGTH)
  .regex(TAG_PATTERN, 'must not contain , ; or control characters')
  .overwrite((t) => t.normalize('NFC'))
  .meta({ description: 'Compared exactly (case included)', example: 'north' });

/** A well-formed BCP 47 tag (RFC 5646), canonicalized (`en-us` → `en-US`) by Intl.getCanonicalLocales. */
export const LanguageTag = z
  .string()
  .max(MAX_LANGUAGE_TAG_LENGTH)
  .transform((tag, ctx) => {
    try {
      const [canonical] = Intl.getCanonicalLocales(tag.trim());
      if (canonical) return canonical;
    } catch {
      // Reported below.
    }
    ctx.addIssue({ code: 'custom', message: 'must be a BCP 47 language tag, e.g. he, en-US, es-MX' });
    return z.NEVER;
  })
  .meta({ description: 'BCP 47 (RFC 5646)', example: 'he' });

/** An IANA zone id the runtime knows (time-zones.ts canonicalTimeZone); offsets are refused. */
export const TimeZoneId = z
  .string()
  .transform((text, ctx) => {
    const zone = canonicalTimeZone(text);
    if (zone) return zone;
    ctx.addIssue({
      code: 'custom',
      message: 'must be an IANA time zone, e.g. Asia/Jerusalem or America/New_York (not an offset)',
    });
    return z.NEVER;
  })
  .meta({ description: 'IANA time zone id', example: 'Asia/Jerusalem' });

const consentStatus = z
  .enum(['opted_in', 'unknown'])
  .meta({ description: "opted_in: the person agreed to this tenant's messages (WhatsApp's opt-in policy)" });

export const ConsentInput = z
  .strictObject({
    status: consentStatus,
    source: z.string().trim().min(1).max(MAX_CONSENT_SOURCE_LENGTH).optional().meta({
      description: 'Where it was given: import, web_form, api, or a text of yours; api by default',
    }),
    at: IsoDateTime.optional().meta({ description: 'When it was given; now by default (opted_in)' }),
  })
  .register(apiSchemas, { id: 'ConsentInput' });

export const ContactRequest = z
  .strictObject({
    name: z
      .string()
      .max(MAX_CONTACT_NAME_LENGTH)
      .optional()
      .meta({ description: 'Replaces the stored name; an empty string removes it' }),
    attributes: z
      .record(z.string(), attributeValue)
      .superRefine((attributes, ctx) => {
        const keys = Object.keys(attributes);
        if (keys.length > MAX_ATTRIBUTES)
          ctx.addIssue({ code: 'custom', message: `must have at most ${MAX_ATTRIBUTES} attributes` });
        for (const key of keys) {
          const message = attributeKeyProblem(key.normalize('NFC'));
          if (message) ctx.addIssue({ code: 'custom', path: [key], message });
        }
      })
      .transform((attributes) =>
        Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key.normalize('NFC'), value])),
      )
      .optional()
      .meta({
        description: `Merged key by key into the stored ones (at most ${MAX_ATTRIBUTES} in all); null removes a key. Each key is a {{key}} placeholder for broadcasts`,
      }),
    tags: z
      .array(Tag)
      .max(MAX_TAGS)
      .optional()
      .meta({ description: `Added to the stored tags (at most ${MAX_TAGS} in all)` }),
    removeTags: z.array(Tag).max(MAX_TAGS).optional().meta({ description: 'Tags to remove' }),
    language: LanguageTag.optional(),
    timeZone: TimeZoneId.optional().meta({ description: "IANA zone; by default the number's country's" }),
    consent: ConsentInput.optional(),
  })
  .register(apiSchemas, { id: 'ContactRequest' });
export type ContactRequestInput = z.output<typeof ContactRequest>;

/** The PUT body as the store's change (null attributes become removals; opted_in consent dated now). */
export function contactChange(phone: string, body: ContactRequestInput, now: Date): ContactChange {
  const attributes = Object.entries(body.attributes ?? {});
  const set = attributes.filter((entry): entry is [string, string | number | boolean] => entry[1] !== null);
  const removed = attributes.filter(([, value]) => value === null).map(([key]) => key);
  const consent = body.consent && {
    status: body.consent.status,
    source: body.consent.source ?? 'api',
    ...(body.consent.at !== undefined
      ? { at: body.consent.at }
      : body.consent.status === 'opted_in'
        ? { at: now.toISOString() }
        : {}),
  };
  return {
    phone,
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...(set.length > 0 ? { attributes: Object.fromEntries(set) } : {}),
    ...(removed.length > 0 ? { removeAttributes: removed } : {}),
    ...(body.tags ? { tags: body.tags } : {}),
    ...(body.removeTags ? { removeTags: body.removeTags } : {}),
    ...(body.language !== undefined ? { language: body.language } : {}),
    ...(body.timeZone !== undefined ? { timeZone: body.timeZone } : {}),
    ...(consent ? { consent } : {}),
  };
}

export const GroupRequest = z
  .strictObject({
    name: z.string().trim().min(1, 'must not be empty').max(MAX_GROUP_NAME_LENGTH),
    description: z.string().max(MAX_GROUP_DESCRIPTION_LENGTH).optional(),
  })
  .register(apiSchemas, { id: 'GroupRequest' });

export const AddMembersRequest = z
  .strictObject({
    phones: z
      .array(z.string().max(1024))
      .min(1, 'must list at least one phone')
      .meta({ description: `1 to ${MAX_MEMBERS_PER_REQUEST} phones; unknown ones become contacts` }),
    defaultCountry: CountryCode.optional(),
  })
  .register(apiSchemas, { id: 'AddMembersRequest' });

// -- Queries ----------------------------------------------------------------------------------

const groupIdParam = z
  .string()
  .max(64)
  .meta({ description: `A group id (${GROUP_ID_PREFIX}…): its members only` });

export const ContactListQuery = PageQuery.extend({
  tag: Tag.optional(),
  groupId: groupIdParam.optional(),
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: 'A phone prefix (+97250, 97250) or a name prefix (case and accents aside)' }),
});
export const MembersListQuery = PageQuery.extend({ format: ListFormat.optional() });

registerRouteQueries({
  'GET /v1/contacts': ContactListQuery,
  'GET /v1/groups': PageQuery,
  'GET /v1/groups/{id}/members': MembersListQuery,
});

// -- Responses --------------------------------------------------------------------------------

const count = z.number().int().min(0);
const timestamp = z.string().meta({ format: 'date-time', description: 'ISO-8601 UTC' });

export const ContactView = z
  .object({
    phone: z.string().meta({ description: 'E.164', example: '+972501234567' }),
    name: z.string().optional(),
    attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    tags: z.array(z.string()),
    language: z.string().optional(),
    timeZone: z.string(),
    consent: z.object({
      status: consentStatus,
      source: z.string().optional(),
      at: timestamp.optional(),
    }),
    groupIds: z.array(z.string()).meta({ description: "The tenant's groups this contact is a member of" }),
    suppressed: z.boolean().meta({
      description: "On this tenant's suppression list or opted out of the sender: broadcasts skip it",
    }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .register(apiSchemas, { id: 'Contact' });
export type ContactViewShape = z.infer<typeof ContactView>;

export const ContactPage = Page(ContactView).register(apiSchemas, { id: 'ContactPage' });

export const GroupView = z
  .object({
    groupId: z.string().meta({ example: 'grp_01JD7X1B2C3D4E5F6G7H8J9K0M' }),
    name: z.string(),
    description: z.string().optional(),
    memberCount: count.meta({ description: 'Exact: moved in the same transaction as each membership' }),
    createdAt: timestamp,
  })
  .register(apiSchemas, { id: 'Group' });

export const GroupPage = Page(GroupView).register(apiSchemas, { id: 'GroupPage' });

export const AddMembersResponse = z
  .object({
    added: count,
    alreadyMembers: count,
    duplicateCount: count.meta({
      description: 'Phones listed more than once (the same E.164): counted once',
    }),
    invalidRecipients: z.array(InvalidRecipientView),
  })
  .register(apiSchemas, { id: 'AddMembersResponse' });

export function contactView(contact: Contact, suppressed: boolean): ContactViewShape {
  return {
    phone: contact.phone,
    ...(contact.name !== undefined ? { name: contact.name } : {}),
    attributes: { ...contact.attributes },
    tags: [...contact.tags],
    ...(contact.language !== undefined ? { language: contact.language } : {}),
    timeZone: contact.timeZone,
    consent: { ...contact.consent },
    groupIds: [...contact.groupIds],
    suppressed,
    createdAt: contact.createdAt,
    updatedAt: contact.updatedAt,
  };
}

export function groupView(group: Group) {
  return {
    groupId: group.groupId,
    name: group.name,
    ...(group.description !== undefined ? { description: group.description } : {}),
    memberCount: group.memberCount,
    createdAt: group.createdAt,
  };
}
