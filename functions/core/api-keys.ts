import { createHash, randomBytes } from 'node:crypto';
import { ulid } from 'ulid';
import { ApiError } from './errors.ts';
import type { Role } from './roles.ts';

/** Keys are random, shown once, and stored only as this hash. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new tenant API key: a recognisable prefix and 256 random bits. */
export function newApiKey(): string {
  return `wbk_${randomBytes(32).toString('base64url')}`;
}

/** The key in `Authorization: Bearer <key>`; a missing or malformed header is a 401. */
export function bearerKey(authorization: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1]) throw new ApiError('UNAUTHORIZED', 'Send your API key as "Authorization: Bearer <key>".');
  return match[1];
}

/** `tenant:key,tenant2:key2`, as LOCAL_API_KEYS gives them. */
export function parseApiKeyList(text: string): { tenantId: string; key: string }[] {
  return text
    .split(',')
    .map((pair) => pair.trim())
    .filter(Boolean)
    .map((pair) => {
      const colon = pair.indexOf(':');
      const tenantId = pair.slice(0, colon).trim();
      const key = pair.slice(colon + 1).trim();
      if (colon <= 0 || !key || !/^[A-Za-z0-9_-]{1,64}$/.test(tenantId))
        throw new Error(
          `LOCAL_API_KEYS entries must be tenant:key (tenant: letters, digits, - or _); got '${pair}'`,
        );
      return { tenantId, key };
    });
}

export const KEY_ID_PREFIX = 'key_';
const KEY_ID = /^key_[0-9A-Za-z]{16,32}$/;

/** `key_01JD…`: a key's public id (a ULID: time-sortable), named in lists, the audit log and routes. */
export function newKeyId(now?: number): string {
  return `${KEY_ID_PREFIX}${ulid(now)}`;
}

/**
 * The id of a key made before keys had ids (the CLI's and LOCAL_API_KEYS' keys of earlier versions),
 * and of keys seeded from LOCAL_API_KEYS: derived from the key's hash, so every container and every
 * restart of the twin names it the same. 80 bits of a SHA-256 say nothing usable about the key.
 */
export function derivedKeyId(keyHash: string): string {
  return `${KEY_ID_PREFIX}${keyHash.slice(0, 20)}`;
}

/** Whether `s` is a well-formed key id (a route answers 404 for anything else without a lookup). */
export function isKeyId(s: unknown): s is string {
  return typeof s === 'string' && KEY_ID.test(s);
}

/** A key as GET /v1/api-keys shows it: never its secret or its hash. */
export interface ApiKeyView {
  readonly keyId: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
  /** The key id of the admin key that made it; absent for keys made by the CLI or LOCAL_API_KEYS. */
  readonly createdBy?: string;
  /** To the minute: a key's use is recorded at most once a minute per Lambda container. */
  readonly lastUsedAt?: string;
  readonly rotatedAt?: string;
  readonly revokedAt?: string;
}
