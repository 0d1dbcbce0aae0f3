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
/** What every admin route does first (functions/commons/admin-route.ts): read the API key's item. */
export const ADMIN_AUTH: TableGrant = { actions: ['GetItem'], leadingKeys: items('APIKEY') };
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
  ),
  writes(['PutItem', 'UpdateItem', 'BatchWriteItem'], 'TENANT', 'BROADCAST', 'IDEM', 'FP', 'LIMITBOOK'),
];
/** A recipient's status change (a status callback, applied now or retried): ledger, follow-up, SID index, history. */
export const APPLY_STATUS: readonly TableGrant[] = [
  reads('BROADCAST', 'TENANT', 'SID', 'CONTACT', 'SUPPRESS'),
  writes(['PutItem', 'UpdateItem'], 'BROADCAST', 'SID', 'CONTACT', 'SUPPRESS'),
];
