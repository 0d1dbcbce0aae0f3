import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type CursorKind, decodeItemCursor, encodeItemCursor, type ItemKey } from '../core/cursor.ts';
import type { Item } from './dynamo-items.ts';

/**
 * One page of an item collection (of the table or of an index), optionally under a sort-key
 * prefix and with a filter, for the audience's lists.
 *
 * A filter is applied by DynamoDB after the read, so a page of matches may need several Query
 * pages; a request reads at most `maxReads` of them (1 MB each at most: DynamoDB's Query page)
 * and, when that budget runs out first, answers with the matches found so far (maybe none) and a
 * cursor at the last key read: the client follows `nextCursor` until it is absent, as for any list.
 * That bounds one request's cost and time whatever the collection's size.
 *
 * Cursors (core/cursor.ts) name the partition and sort key of the position; one is honoured only
 * when its partition is the one being read and its sort key is a key of that list within the
 * prefix being read (`sk`), so another tenant's or another list's cursor is refused before any read.
 */
export interface PageQuery {
  readonly kind: CursorKind;
  /** An index name; the table when absent. */
  readonly index?: string;
  /** The partition and sort key attributes of the table or index. */
  readonly keys: { readonly pk: string; readonly sk: string };
  readonly partition: string;
  readonly prefix?: string;
  /** The sort keys of this list (within the prefix): a cursor naming another is refused. */
  readonly sk: RegExp;
  /** The ExclusiveStartKey of a position (an index needs the table's keys too). */
  readonly startKey?: (position: ItemKey) => Item;
  readonly filter?: {
    readonly expression: string;
    readonly names?: Record<string, string>;
    readonly values?: Record<string, unknown>;
  };
  readonly newestFirst?: boolean;
  readonly limit: number;
  readonly cursor?: string;
  /** Query pages read at most (a filtered list's budget). */
  readonly maxReads?: number;
}

/** Query pages a filtered list reads per request at most: up to ~8 MB, a few hundred ms. */
export const FILTERED_READS = 8;

export async function queryPage(
  db: DynamoDBDocumentClient,
  table: string,
  q: PageQuery,
): Promise<{ items: Item[]; nextCursor?: string }> {
  let startKey: Item | undefined;
  if (q.cursor !== undefined) {
    const position = decodeItemCursor(q.kind, q.cursor, { pk: q.partition, sk: q.sk });
    startKey = q.startKey ? q.startKey(position) : { [q.keys.pk]: position.pk, [q.keys.sk]: position.sk };
  }
  const maxReads = q.maxReads ?? (q.filter ? FILTERED_READS : Number.POSITIVE_INFINITY);
  const items: Item[] = [];
  let reads = 0;
  do {
    const result = await db.send(
      new QueryCommand({
        TableName: table,
        ...(q.index ? { IndexName: q.index } : { ConsistentRead: true }),
        KeyConditionExpression: q.prefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
        ExpressionAttributeNames: {
          '#pk': q.keys.pk,
          ...(q.prefix ? { '#sk': q.keys.sk } : {}),
          ...(q.filter?.names ?? {}),
        },
        ExpressionAttributeValues: {
          ':pk': q.partition,
          ...(q.prefix ? { ':prefix': q.prefix } : {}),
          ...(q.filter?.values ?? {}),
        },
        ...(q.filter ? { FilterExpression: q.filter.expression } : { Limit: q.limit + 1 - items.length }),
        ScanIndexForward: !q.newestFirst,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(result.Items ?? []));
    startKey = result.LastEvaluatedKey;
    reads++;
  } while (startKey && items.length <= q.limit && reads < maxReads);
  const position = (item: Item): ItemKey => ({ pk: q.partition, sk: String(item[q.keys.sk]) });
  if (items.length > q.limit) {
    const page = items.slice(0, q.limit);
    return { items: page, nextCursor: encodeItemCursor(q.kind, position(page.at(-1) as Item)) };
  }
  // The budget ran out before the page filled: go on from the last key read.
  if (startKey) return { items, nextCursor: encodeItemCursor(q.kind, position(startKey)) };
  return { items };
}
