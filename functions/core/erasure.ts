/**
 * A person's erasure (POST /v1/erasures): everything this tenant holds about one phone number is
 * deleted or redacted, asynchronously (its broadcasts' recipients are found by reading them), with
 * its progress at GET /v1/erasures/{id}. What it does, item by item, is in use-cases/erase-person.ts.
 *
 * The erasure's own record never holds the phone: only its masked form (`+********4567`), so the
 * record of an erasure is not itself a copy of what was erased.
 */
import { ulid } from 'ulid';
import { z } from 'zod';
import { apiSchemas, CountryCode, PageQuery, registerRouteQueries } from './broadcast-request.ts';
import { count, timestamp } from './broadcast-responses.ts';

export const ERASURE_ID_PREFIX = 'era_';
export const ERASURE_ID = /^era_[0-9A-HJKMNP-TV-Z]{26}$/;

registerRouteQueries({ 'GET /v1/erasures': PageQuery });

/** `era_01JD…`. */
export function newErasureId(now?: number): string {
  return `${ERASURE_ID_PREFIX}${ulid(now)}`;
}

export function isErasureId(s: unknown): s is string {
  return typeof s === 'string' && ERASURE_ID.test(s);
}

export const ERASURE_STATUSES = ['queued', 'running', 'completed'] as const;
export type ErasureStatus = (typeof ERASURE_STATUSES)[number];

/** What an erasure removed or redacted so far. */
export interface ErasureProgress {
  /** The contact (with its group memberships) was deleted. */
  readonly contactErased: boolean;
  /** Entries of the person's message history with this tenant deleted. */
  readonly historyDeleted: number;
  /** The tenant's broadcasts looked through, and the recipient items redacted in them. */
  readonly broadcastsScanned: number;
  readonly recipientsRedacted: number;
  /** Stored-list entries (a broadcast's chunks) redacted. */
  readonly listEntriesRedacted: number;
  /** Import row errors that quoted the number, redacted. */
  readonly importErrorsRedacted: number;
  /** Campaigns whose audience listed the number, and refused inputs quoting it in broadcasts. */
  readonly campaignsChanged: number;
  readonly invalidInputsRedacted: number;
  /** The tenant's suppression of the number, kept (only its phone, reason and time). */
  readonly suppressionKept: boolean;
  /** Message records deleted at Twilio (the person's messages found in the history). */
  readonly providerMessagesDeleted: number;
  /** Found on none of the tenant's accounts (deleted already, or on an account it no longer uses). */
  readonly providerMessagesNotFound: number;
  /** Not final at Twilio yet (no delivery receipt): tried again every 15 minutes. */
  readonly providerMessagesPending: number;
  /** Still not final after PROVIDER_DELETE_GIVE_UP_HOURS, or over the record's limit: left at Twilio. */
  readonly providerMessagesLeft: number;
}

/**
 * Deletes a message record at the provider. `not_final`: the provider keeps it until its delivery
 * receipt (Twilio's error 20009); the erasure tries again later.
 */
export interface ProviderMessageDeletion {
  delete(sid: string): Promise<'deleted' | 'not_found' | 'not_final'>;
}

/** How long an erasure keeps trying to delete messages the provider holds as not final. */
export const PROVIDER_DELETE_GIVE_UP_HOURS = 24;
/** Between those tries: SQS's longest delay (900 s). */
export const PROVIDER_DELETE_RETRY_SECONDS = 900;
/** SIDs an erasure record keeps to delete later (34 characters each: well under DynamoDB's 400 KB item). */
export const PROVIDER_PENDING_LIMIT = 5_000;

export const EMPTY_PROGRESS: ErasureProgress = {
  contactErased: false,
  historyDeleted: 0,
  broadcastsScanned: 0,
  recipientsRedacted: 0,
  listEntriesRedacted: 0,
  importErrorsRedacted: 0,
  campaignsChanged: 0,
  invalidInputsRedacted: 0,
  suppressionKept: false,
  providerMessagesDeleted: 0,
  providerMessagesNotFound: 0,
  providerMessagesPending: 0,
  providerMessagesLeft: 0,
};

export interface Erasure {
  readonly tenantId: string;
  readonly erasureId: string;
  readonly status: ErasureStatus;
  /** maskPhone of the number: enough to tell erasures apart, not the number. */
  readonly phoneMasked: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
  readonly progress: ErasureProgress;
  /** Message SIDs still to delete at the provider (not the person's number: provider references). */
  readonly providerPending?: readonly string[];
  /** While some wait at the provider: when they are tried again. */
  readonly providerRetryAt?: string;
}

/** POST /v1/erasures's body: the person's number (E.164, or as the add routes accept it). */
export const ErasureRequest = z
  .strictObject({
    phone: z.string().min(1).max(64).meta({
      description:
        "The person's number, E.164 (+972501234567), or national with defaultCountry. A contact's id is its number: this erases the contact and every other trace of the number",
    }),
    defaultCountry: CountryCode.optional(),
  })
  .register(apiSchemas, { id: 'ErasureRequest' });

const ProgressView = z.object({
  contactErased: z
    .boolean()
    .meta({ description: 'A contact of that number existed in the address book, and was deleted' }),
  historyDeleted: count,
  broadcastsScanned: count,
  recipientsRedacted: count,
  listEntriesRedacted: count,
  importErrorsRedacted: count,
  campaignsChanged: count,
  invalidInputsRedacted: count,
  suppressionKept: z.boolean().meta({
    description:
      'The number stays on the suppression list (phone, reason, time; its free-text detail removed) so an opt-out keeps being honoured',
  }),
  providerMessagesDeleted: count.meta({
    description: "The person's message records deleted at Twilio (found in the message history)",
  }),
  providerMessagesNotFound: count.meta({
    description:
      "Found on none of the tenant's Twilio accounts (deleted already, or on an account no longer used)",
  }),
  providerMessagesPending: count.meta({
    description:
      'Not final at Twilio yet (Twilio deletes a message only after its delivery receipt: error 20009); tried again every 15 minutes, the erasure stays running',
  }),
  providerMessagesLeft: count.meta({
    description: `Still not final after ${PROVIDER_DELETE_GIVE_UP_HOURS} hours: left at Twilio (their SIDs are logged for the operator)`,
  }),
});

export const ErasureView = z
  .object({
    erasureId: z.string(),
    status: z.enum(ERASURE_STATUSES),
    phoneMasked: z.string().meta({ description: 'The number, masked: the erasure keeps no copy of it' }),
    createdAt: timestamp,
    updatedAt: timestamp,
    completedAt: timestamp.optional(),
    providerRetryAt: timestamp.optional().meta({
      description: 'While messages wait at Twilio (providerMessagesPending): when they are tried again',
    }),
    progress: ProgressView,
  })
  .register(apiSchemas, { id: 'Erasure' });

export type ErasureViewShape = z.infer<typeof ErasureView>;

export const ErasurePage = z
  .object({ items: z.array(ErasureView), nextCursor: z.string().optional() })
  .meta({ description: "The tenant's erasures, newest first" })
  .register(apiSchemas, { id: 'ErasurePage' });

export function erasureView(e: Erasure): ErasureViewShape {
  return {
    erasureId: e.erasureId,
    status: e.status,
    phoneMasked: e.phoneMasked,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    ...(e.completedAt ? { completedAt: e.completedAt } : {}),
    ...(e.providerRetryAt && e.status !== 'completed' ? { providerRetryAt: e.providerRetryAt } : {}),
    progress: { ...EMPTY_PROGRESS, ...e.progress },
  };
}

/** Adds `more` to `into`'s counts (booleans: or). */
export function addProgress(into: ErasureProgress, more: Partial<ErasureProgress>): ErasureProgress {
  return {
    contactErased: into.contactErased || (more.contactErased ?? false),
    historyDeleted: into.historyDeleted + (more.historyDeleted ?? 0),
    broadcastsScanned: into.broadcastsScanned + (more.broadcastsScanned ?? 0),
    recipientsRedacted: into.recipientsRedacted + (more.recipientsRedacted ?? 0),
    listEntriesRedacted: into.listEntriesRedacted + (more.listEntriesRedacted ?? 0),
    importErrorsRedacted: into.importErrorsRedacted + (more.importErrorsRedacted ?? 0),
    campaignsChanged: into.campaignsChanged + (more.campaignsChanged ?? 0),
    invalidInputsRedacted: into.invalidInputsRedacted + (more.invalidInputsRedacted ?? 0),
    suppressionKept: into.suppressionKept || (more.suppressionKept ?? false),
    providerMessagesDeleted: (into.providerMessagesDeleted ?? 0) + (more.providerMessagesDeleted ?? 0),
    providerMessagesNotFound: (into.providerMessagesNotFound ?? 0) + (more.providerMessagesNotFound ?? 0),
    // A state, not a sum: how many wait now.
    providerMessagesPending: more.providerMessagesPending ?? into.providerMessagesPending ?? 0,
    providerMessagesLeft: (into.providerMessagesLeft ?? 0) + (more.providerMessagesLeft ?? 0),
  };
}

/** What a recipient's phone becomes: not a number, so nothing can be sent to it. */
export const ERASED_PHONE = 'erased';
