/**
 * The ports of who may call the API (functions/commons/admin-route.ts): tenant API keys, the audit
 * log and the per-tenant rate limit. Adapters: dynamo-api-keys.ts, dynamo-audit.ts, dynamo-rate-limit.ts.
 */

import type { AuditEntry, Role } from './access.ts';
import type { ApiKeyView } from './api-keys.ts';
import type { Page } from './audience.ts';

/** Who a valid key is: its tenant, its public id and its role (keys made before roles are admins). */
export interface ApiKeyIdentity {
  readonly tenantId: string;
  readonly keyId: string;
  readonly role: Role;
}

/** What revoking a key did: `last_admin` when it is the tenant's last active admin key (refused). */
export type RevokeOutcome = 'revoked' | 'already_revoked' | 'not_found' | 'last_admin';

/** What seeding a key (LOCAL_API_KEYS) found: never un-revokes, never moves a key to another tenant. */
export type SeedOutcome = 'created' | 'exists' | 'revoked' | 'other_tenant';

/** Tenant API keys, stored by the SHA-256 of the secret (never the secret); every method is tenant-scoped. */
export interface ApiKeyStore {
  /** The key's identity, unless unknown or revoked (a read each time: callers cache it briefly). */
  identify(keyHash: string): Promise<ApiKeyIdentity | undefined>;
  create(
    key: { tenantId: string; keyId: string; name: string; role: Role; createdBy?: string },
    keyHash: string,
    now: Date,
  ): Promise<ApiKeyView>;
  /** A key given by the operator (LOCAL_API_KEYS): created if new, else left as it is. */
  seed(tenantId: string, keyHash: string, now: Date): Promise<SeedOutcome>;
  list(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<ApiKeyView>>;
  revoke(tenantId: string, keyId: string, now: Date): Promise<RevokeOutcome>;
  /** A new secret for an active key (same id, name, role); the old secret is refused from now on. */
  rotate(tenantId: string, keyId: string, newHash: string, now: Date): Promise<ApiKeyView | undefined>;
  /** Revokes by secret (the CLI's `--key`), even the last admin key: the operator's way out. */
  revokeByHash(keyHash: string, now: Date): Promise<boolean>;
  /** Records that the key was used (lastUsedAt); best effort. */
  touch(tenantId: string, keyId: string, now: Date): Promise<void>;
}

/** The tenant's audit log (API.md "API keys, roles, audit"), newest first. */
export interface AuditLog {
  /** `expiresAt`: epoch seconds, the table's TTL attribute (AUDIT_RETENTION_DAYS after `at`). */
  append(tenantId: string, entry: AuditEntry, expiresAt: number): Promise<void>;
  list(
    tenantId: string,
    query: { limit: number; cursor?: string; action?: string; keyId?: string },
  ): Promise<Page<AuditEntry>>;
}

/** A per-tenant request counter in fixed one-second windows. */
export interface TenantRateLimiter {
  /** Counts one request of the tenant in the window of `nowMs`; false when the window already holds `limit`. */
  take(tenantId: string, nowMs: number, limit: number): Promise<boolean>;
}
