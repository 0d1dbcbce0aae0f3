import { ApiError } from './errors.ts';
import { maskPhone } from './phones.ts';
import { allows, type Role } from './roles.ts';

/**
 * Who may call which admin route, and what each write is called in the audit log: declared once,
 * here, by API Gateway's routeKey (`METHOD /path`, the same string the handlers switch on), and read
 * by the admin-route middleware (commons/admin-route.ts). test/core/access.test.ts holds every admin
 * route of lib/topology.ts to an entry.
 *
 * Roles (API.md "API keys, roles, audit"), each allowing what the one before allows:
 * - `viewer` reads (every GET but the key list and the audit log);
 * - `sender` also sends and runs the address book: creates broadcasts, test sends and dry runs;
 *   pauses, resumes, cancels and retries; campaigns; contacts, groups, members, uploads and imports;
 * - `admin` also manages API keys, suppressions, settings, reads the audit log, and erases contacts
 *   (DELETE /v1/contacts/{phone} removes personal data for good, so it is an admin's decision).
 */

export { allows, isRole, ROLES, type Role } from './roles.ts';

/**
 * What names the resource a write changed, for the audit log: a path parameter, or a field of the
 * 2xx answer (the id it created). `phone` values are masked (maskPhone): the log keeps no phone number.
 */
export type ResourceSource =
  | { readonly path: string; readonly phone?: boolean }
  | { readonly body: string; readonly phone?: boolean };

export interface RouteAccess {
  readonly role: Role;
  /** The audit action of a successful call (writes only); absent for reads and dry runs. */
  readonly action?: string;
  readonly resource?: ResourceSource;
  /** Fields of the 2xx answer copied into the entry's `detail` (numbers, booleans, short strings). */
  readonly detail?: readonly string[];
}

const read: RouteAccess = { role: 'viewer' };
const byId: ResourceSource = { path: 'id' };
const phonePath: ResourceSource = { path: 'phone', phone: true };

export const ROUTE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  // Broadcasts
  'POST /v1/broadcasts': {
    role: 'sender',
    action: 'broadcast.create',
    resource: { body: 'broadcastId' },
    detail: ['status', 'totalRecipients'],
  },
  // A dry run stores nothing: no audit entry.
  'POST /v1/broadcasts/preview': { role: 'sender' },
  'POST /v1/broadcasts/test-send': {
    role: 'sender',
    action: 'broadcast.test_send',
    resource: { body: 'broadcastId' },
    detail: ['totalRecipients'],
  },
  'GET /v1/broadcasts': read,
  'GET /v1/broadcasts/{id}': read,
  'GET /v1/broadcasts/{id}/progress': read,
  'GET /v1/broadcasts/{id}/recipients': read,
  'POST /v1/broadcasts/{id}/cancel': { role: 'sender', action: 'broadcast.cancel', resource: byId },
  'POST /v1/broadcasts/{id}/retry': { role: 'sender', action: 'broadcast.retry', resource: byId },
  'POST /v1/broadcasts/{id}/pause': { role: 'sender', action: 'broadcast.pause', resource: byId },
  'POST /v1/broadcasts/{id}/resume': { role: 'sender', action: 'broadcast.resume', resource: byId },
  'GET /v1/metrics': read,
  // Settings and suppressions: admin
  'GET /v1/settings': read,
  'PUT /v1/settings': { role: 'admin', action: 'settings.update' },
  // The tenant's own sender and Twilio account (a secret behind it): admin, reads included.
  'GET /v1/settings/twilio': { role: 'admin' },
  'PUT /v1/settings/twilio': { role: 'admin', action: 'settings.twilio_update', detail: ['source'] },
  'DELETE /v1/settings/twilio': { role: 'admin', action: 'settings.twilio_delete' },
  'GET /v1/suppressions': read,
  'POST /v1/suppressions': {
    role: 'admin',
    action: 'suppression.add',
    resource: { body: 'phone', phone: true },
  },
  'DELETE /v1/suppressions/{phone}': { role: 'admin', action: 'suppression.remove', resource: phonePath },
  'GET /v1/contacts/{phone}/messages': read,
  // Address book
  'GET /v1/contacts': read,
  'PUT /v1/contacts/{phone}': { role: 'sender', action: 'contact.upsert', resource: phonePath },
  'GET /v1/contacts/{phone}': read,
  'DELETE /v1/contacts/{phone}': { role: 'admin', action: 'contact.erase', resource: phonePath },
  'POST /v1/groups': { role: 'sender', action: 'group.create', resource: { body: 'groupId' } },
  'GET /v1/groups': read,
  'GET /v1/groups/{id}': read,
  'DELETE /v1/groups/{id}': { role: 'sender', action: 'group.delete', resource: byId },
  'POST /v1/groups/{id}/members': {
    role: 'sender',
    action: 'group.members_add',
    resource: byId,
    detail: ['added', 'alreadyMembers'],
  },
  'GET /v1/groups/{id}/members': read,
  'DELETE /v1/groups/{id}/members/{phone}': {
    role: 'sender',
    action: 'group.member_remove',
    resource: byId,
  },
  'GET /v1/templates': read,
  'GET /v1/templates/{contentSid}': read,
  'POST /v1/uploads': { role: 'sender', action: 'upload.create', resource: { body: 'uploadId' } },
  'POST /v1/contacts/imports': {
    role: 'sender',
    action: 'import.create',
    resource: { body: 'importId' },
  },
  'GET /v1/contacts/imports': read,
  'GET /v1/contacts/imports/{importId}': read,
  // Campaigns
  'POST /v1/campaigns': {
    role: 'sender',
    action: 'campaign.create',
    resource: { body: 'campaignId' },
    detail: ['status'],
  },
  'GET /v1/campaigns': read,
  'GET /v1/campaigns/{id}': read,
  'DELETE /v1/campaigns/{id}': { role: 'sender', action: 'campaign.delete', resource: byId },
  'POST /v1/campaigns/{id}/pause': { role: 'sender', action: 'campaign.pause', resource: byId },
  'POST /v1/campaigns/{id}/resume': { role: 'sender', action: 'campaign.resume', resource: byId },
  'POST /v1/campaigns/{id}/test-send': {
    role: 'sender',
    action: 'campaign.test_send',
    resource: byId,
  },
  // API keys and the audit log: admin only, reads included
  'POST /v1/api-keys': {
    role: 'admin',
    action: 'api_key.create',
    resource: { body: 'keyId' },
    detail: ['name', 'role'],
  },
  'GET /v1/api-keys': { role: 'admin' },
  'DELETE /v1/api-keys/{keyId}': { role: 'admin', action: 'api_key.revoke', resource: { path: 'keyId' } },
  'POST /v1/api-keys/{keyId}/rotate': {
    role: 'admin',
    action: 'api_key.rotate',
    resource: { path: 'keyId' },
  },
  'GET /v1/audit': { role: 'admin' },
  // Erasure of a person's data everywhere (functions/erasures.ts): admin, as the contact erasure.
  'POST /v1/erasures': { role: 'admin', action: 'person.erase', resource: { body: 'erasureId' } },
  'GET /v1/erasures': { role: 'admin' },
  'GET /v1/erasures/{id}': { role: 'admin' },
};

/** Every audit action, for the OpenAPI document and `?action=`. */
export const AUDIT_ACTIONS: readonly string[] = [
  ...new Set(Object.values(ROUTE_ACCESS).flatMap((a) => (a.action ? [a.action] : []))),
].sort();

/**
 * The route's access rule. A route with no entry is refused to everyone (403): a route added to
 * the topology without one fails closed, and the access test names it.
 */
export function routeAccess(routeKey: string): RouteAccess | undefined {
  return ROUTE_ACCESS[routeKey];
}

/** 403 FORBIDDEN unless a key of `role` may call `routeKey`; decided before the handler runs. */
export function checkRole(routeKey: string, role: Role): RouteAccess {
  const access = routeAccess(routeKey);
  if (!access)
    throw new ApiError('FORBIDDEN', `No API key role may call ${routeKey}.`, [
      { message: 'this route has no access rule', routeKey },
    ]);
  if (!allows(role, access.role))
    throw new ApiError(
      'FORBIDDEN',
      `This API key's role (${role}) may not call ${routeKey}; it needs ${access.role === 'admin' ? 'an' : 'a'} ${access.role} key.`,
      [{ message: `needs the ${access.role} role`, role, requiredRole: access.role }],
    );
  return access;
}

/** Longest string copied into an audit entry's detail or resource (characters). */
const MAX_DETAIL_TEXT = 120;

/** One audit log entry (API.md: `{ at, keyId, action, resource, detail }`). */
export interface AuditEntry {
  readonly at: string;
  readonly keyId: string;
  readonly action: string;
  readonly resource?: string;
  readonly detail: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The audit entry of a successful write, or undefined when the route has no audit action. Only the
 * fields the route declares are copied, and phones are masked: no phone number or secret reaches it.
 */
export function auditEntryFor(
  access: RouteAccess,
  call: {
    readonly at: Date;
    readonly keyId: string;
    readonly statusCode: number;
    readonly pathParameters?: Readonly<Record<string, string | undefined>> | null;
    readonly body: unknown;
  },
): AuditEntry | undefined {
  if (!access.action) return undefined;
  const body = call.body && typeof call.body === 'object' ? (call.body as Record<string, unknown>) : {};
  let resource: string | undefined;
  if (access.resource) {
    const raw =
      'path' in access.resource ? call.pathParameters?.[access.resource.path] : body[access.resource.body];
    if (typeof raw === 'string' && raw) {
      const text = access.resource.phone ? maskPhone(safeDecode(raw)) : raw;
      resource = text.slice(0, MAX_DETAIL_TEXT);
    }
  }
  const detail: Record<string, string | number | boolean> = { statusCode: call.statusCode };
  for (const field of access.detail ?? []) {
    const value = body[field];
    if (typeof value === 'number' || typeof value === 'boolean') detail[field] = value;
    else if (typeof value === 'string') detail[field] = value.slice(0, MAX_DETAIL_TEXT);
  }
  return {
    at: call.at.toISOString(),
    keyId: call.keyId,
    action: access.action,
    ...(resource !== undefined ? { resource } : {}),
    detail,
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Requests per second one tenant's keys may make together (TENANT_RATE_LIMIT; 0 turns the limit off). */
export const DEFAULT_TENANT_RATE_LIMIT = 50;
/** Days an audit entry is kept (AUDIT_RETENTION_DAYS): then DynamoDB's TTL deletes it. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

/** An audit entry's `expiresAt`: epoch seconds, `days` after `at`. */
export function auditExpiresAt(at: Date, days: number): number {
  return Math.floor(at.getTime() / 1000) + days * 86_400;
}

/** 429 RATE_LIMITED: the tenant's window for this second is full; `Retry-After: 1`. */
export function tenantRateLimited(limit: number): ApiError {
  return new ApiError(
    'RATE_LIMITED',
    `Too many requests for this tenant: at most ${limit} per second across its API keys. Retry after a second.`,
    [{ message: `limit ${limit} requests per second per tenant`, limitPerSecond: limit }],
    { 'retry-after': '1' },
  );
}
