import { createHash, randomBytes } from 'node:crypto';
import { ApiError } from './errors.ts';

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
