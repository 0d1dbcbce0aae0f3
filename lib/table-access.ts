import type { DynamoAction, TableAccess, TableGrant, TableSpec } from './topology.ts';

/**
 * What a function's `uses.tables` entry allows, spelled out, one statement at a time: the IAM
 * actions, the global secondary indexes it may query, and the partition-key patterns of the items it
 * may touch. Read by the CDK stack (lib/table-grants.ts: the policy) and the local twin
 * (lib/local/grant-guard.ts: the same refusals), so both hold a function to one declaration.
 */
export interface ResolvedTableGrant {
  readonly actions: readonly DynamoAction[];
  /** Indexes it may Query (and Scan, when `actions` has Scan). */
  readonly indexes: readonly string[];
  /** IAM StringLike patterns of `dynamodb:LeadingKeys`; undefined: any item. */
  readonly leadingKeys?: readonly string[];
  /** The coarse `'read'`/`'readwrite'` of before: CDK's grantReadData/grantReadWriteData, any index. */
  readonly coarse?: 'read' | 'readwrite';
}

/**
 * CDK's Table.grantReadData and grantReadWriteData (aws-cdk-lib aws-dynamodb perms.ts
 * READ_DATA_ACTIONS, READ_WRITE_DATA_ACTIONS), which `'read'` and `'readwrite'` still mean.
 */
export const COARSE_READ: readonly DynamoAction[] = [
  'BatchGetItem',
  'Query',
  'GetItem',
  'Scan',
  'ConditionCheckItem',
  'DescribeTable',
];
export const COARSE_WRITE: readonly DynamoAction[] = [
  'BatchWriteItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
];

/** The actions that change data: a grant without them is read-only. */
export const WRITE_ACTIONS: ReadonlySet<DynamoAction> = new Set(COARSE_WRITE);

export function resolveTableGrants(access: TableAccess, table: TableSpec): ResolvedTableGrant[] {
  if (typeof access === 'string') return resolveOnce(access, table);
  let resolved = RESOLVED.get(access);
  if (!resolved) {
    resolved = resolveOnce(access, table);
    RESOLVED.set(access, resolved);
  }
  return resolved;
}
/** A declaration does not change once made: resolved once per grant object, not per call. */
const RESOLVED = new WeakMap<object, ResolvedTableGrant[]>();

function resolveOnce(access: TableAccess, table: TableSpec): ResolvedTableGrant[] {
  const allIndexes = table.globalIndexes.map((i) => i.name);
  if (access === 'read') return [{ actions: COARSE_READ, indexes: allIndexes, coarse: 'read' }];
  if (access === 'readwrite')
    return [{ actions: [...COARSE_READ, ...COARSE_WRITE], indexes: allIndexes, coarse: 'readwrite' }];
  return grantList(access).map((grant) => ({
    actions: [...new Set(grant.actions)],
    indexes: grant.indexes ?? [],
    ...(grant.leadingKeys ? { leadingKeys: grant.leadingKeys } : {}),
  }));
}

function grantList(access: TableGrant | readonly TableGrant[]): readonly TableGrant[] {
  return Array.isArray(access) ? access : [access as TableGrant];
}

/** Problems in fine-grained grants (an unknown index, an index without Query, a pattern limiting nothing). */
export function tableGrantProblems(
  fnId: string,
  tableId: string,
  access: TableAccess,
  table: TableSpec,
): string[] {
  if (access === 'read' || access === 'readwrite') return [];
  const problems: string[] = [];
  const known = new Set(table.globalIndexes.map((i) => i.name));
  const grants = grantList(access);
  if (grants.length === 0) problems.push(`${fnId} is granted nothing on table ${tableId}`);
  for (const grant of grants) {
    for (const index of grant.indexes ?? [])
      if (!known.has(index)) problems.push(`${fnId} queries unknown index ${index} of table ${tableId}`);
    if ((grant.indexes ?? []).length > 0 && !grant.actions.includes('Query'))
      problems.push(`${fnId} names indexes of table ${tableId} but not the Query action`);
    if (grant.actions.length === 0) problems.push(`${fnId} is granted no action on table ${tableId}`);
    if (grant.leadingKeys) {
      if (grant.leadingKeys.length === 0)
        problems.push(`${fnId}: an empty leadingKeys on table ${tableId} would allow no item`);
      for (const pattern of grant.leadingKeys)
        if (!/^[A-Z]/.test(pattern))
          problems.push(`${fnId}: leading-key pattern '${pattern}' on table ${tableId} names no item family`);
      // ForAllValues over a request that names no key (a Scan) is true: the condition would not hold it.
      if (grant.actions.includes('Scan'))
        problems.push(`${fnId}: Scan on table ${tableId} is not limited by leadingKeys; grant it apart`);
    }
  }
  return problems;
}

/**
 * IAM's StringLike: `*` matches any run of characters (`#` included), `?` exactly one; everything
 * else literally, case-sensitive (IAM User Guide, "IAM JSON policy elements: Condition operators").
 */
export function stringLike(pattern: string, value: string): boolean {
  let compiled = PATTERNS.get(pattern);
  if (!compiled) {
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    compiled = new RegExp(`^${source}$`, 's');
    PATTERNS.set(pattern, compiled);
  }
  return compiled.test(value);
}
/** Compiled once: the twin checks every call of every function against them. */
const PATTERNS = new Map<string, RegExp>();

/**
 * `ForAllValues:StringLike` on dynamodb:LeadingKeys: every partition key the request names matches a
 * pattern. A request naming none (a Scan) passes, as in IAM, so grants with leadingKeys leave Scan out.
 */
export function leadingKeysAllowed(
  patterns: readonly string[] | undefined,
  keys: readonly string[],
): boolean {
  if (!patterns) return true;
  return keys.every((key) => patterns.some((p) => stringLike(p, key)));
}

/**
 * What IAM decides for one permission against one resolved grant's statements (lib/table-grants.ts):
 * the table statement carries the actions and the leading-key condition; the index statement only
 * Query (and Scan), on the named indexes, without condition.
 */
export function grantAllows(
  grant: ResolvedTableGrant,
  action: DynamoAction,
  index: string | undefined,
  keys: readonly string[],
): boolean {
  if (!grant.actions.includes(action)) return false;
  if (index) return (action === 'Query' || action === 'Scan') && grant.indexes.includes(index);
  return leadingKeysAllowed(grant.leadingKeys, keys);
}
