import type { DynamoAction, TableGrant } from './topology.ts';

/**
 * Table grants by item family (functions/adapters/table-layout.ts and the adapters' layouts): the
 * partition-key patterns of `dynamodb:LeadingKeys`, one IAM statement per TableGrant.
 */
export const items = (...families: string[]): string[] => families.map((f) => `${f}#*`);
const READ: readonly DynamoAction[] = ['GetItem', 'BatchGetItem', 'Query'];
export const reads = (...families: string[]): TableGrant => ({
  actions: READ,
  leadingKeys: items(...families),
});
export const writes = (actions: readonly DynamoAction[], ...families: string[]): TableGrant => ({
  actions,
  leadingKeys: items(...families),
});
/**
 * What every admin route does (functions/commons/admin-route.ts, adapters dynamo-api-keys.ts,
 * dynamo-rate-limit.ts, dynamo-audit.ts): read the API key's lookup item; note the key's lastUsedAt on
 * the tenant's key record; count the request in the tenant's rate window; append the audit entry of a
 * write; and, once per key made before key ids, adopt it (its record put, its lookup item given the id).
 * No admin function but apiKeys may create, revoke or rotate a key: none gets PutItem on `APIKEY#`.
 */
export const ADMIN_AUTH: readonly TableGrant[] = [
  { actions: ['GetItem'], leadingKeys: items('APIKEY') },
  writes(['UpdateItem'], 'APIKEY', 'APIKEYS', 'RATE'),
  writes(['PutItem'], 'APIKEYS', 'AUDIT'),
];
/**
 * Accepting a broadcast (create, a test send, a campaign's run: commons/broadcast-creation.ts): the
 * tenant's settings, audience, suppressions, send history and limit book read; the broadcast, its
 * chunks, its idempotency and fingerprint items and the limit book written.
 */
export const ACCEPT_BROADCAST: readonly TableGrant[] = [
  reads(
    'TENANT',
    'BROADCAST',
    'IDEM',
    'FP',
    'SETTINGS',
    'GROUPS',
    'GROUP',
    'CONTACTS',
    'SUPPRESS',
    'SENDS',
    'LIMITBOOK',
    'ACCOUNTCLAIM',
    'SENDERCLAIM',
  ),
  writes(['PutItem', 'UpdateItem', 'BatchWriteItem'], 'TENANT', 'BROADCAST', 'IDEM', 'FP', 'LIMITBOOK'),
];
/** A recipient's status change (a status callback, applied now or retried): ledger, follow-up, SID index, history. */
export const APPLY_STATUS: readonly TableGrant[] = [
  reads('BROADCAST', 'TENANT', 'SID', 'CONTACT', 'SUPPRESS', 'ACCOUNTCLAIM'),
  writes(['PutItem', 'UpdateItem'], 'BROADCAST', 'SID', 'CONTACT', 'SUPPRESS'),
];

/**
 * Which Twilio account and sender a tenant sends with (functions/adapters/dynamo-tenant-senders.ts): its
 * own sender setting (`SETTINGS#<tenant>`/`TWILIO`) and the claims naming the tenant that owns an
 * account or a sender (`ACCOUNTCLAIM#`, `SENDERCLAIM#`), read by every function that calls Twilio or
 * checks a Twilio signature for a tenant.
 */
export const SENDER_LOOKUPS: TableGrant = reads('SETTINGS', 'ACCOUNTCLAIM', 'SENDERCLAIM');
