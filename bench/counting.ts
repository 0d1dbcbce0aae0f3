/**
 * Counts, during a run, what AWS would bill: every DynamoDB and SQS request the handlers and the
 * event-source pollers make (AWS SDK middleware on the clients they share), every Lambda invocation
 * (by what invoked it: a Function URL, the HTTP API, an event source, a schedule) and its duration,
 * and the bytes the handlers log. Each request is put down to the function whose invocation made it
 * (AsyncLocalStorage), so a run can leave out what the bench itself caused (its progress polling).
 *
 * DynamoDB units are computed here, as AWS bills them (bench/dynamo-units.ts), not taken from
 * DynamoDB Local, whose ConsumedCapacity counts a transactional item once (AWS: twice) and a failed
 * conditional write as nothing (AWS: its units). For that the meter keeps a copy of every item of the
 * table (read once at the start, then kept from the writes it sees): a write's units are those of the
 * larger of the item before (the copy) and after (the item the write returns: the meter asks an
 * UpdateItem for ALL_NEW and hands the handler what it asked for; a Put's own item; after a
 * transaction, the items read back by the bench's own uncounted client), and its index writes follow
 * from the index keys before and after. What DynamoDB Local reported is kept alongside, as a
 * cross-check.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  ScanCommand as DocScanCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Invoke } from '../lib/local/lambda-runtime.ts';
import {
  type IndexKeys,
  type Item,
  indexWriteUnits,
  itemBytes,
  type ReadConsistency,
  readUnits,
  writeUnits,
} from './dynamo-units.ts';

export interface DynamoOpCount {
  calls: number;
  /** Calls that failed (a condition not met, a cancelled transaction): AWS bills them too. */
  failed: number;
  /** Items the calls named (a transaction or batch names several). */
  items: number;
  failedItems: number;
  /** Write units as AWS bills them, on the table (transactions ×2, failed conditions included). */
  writeUnits: number;
  /** Write units on global secondary indexes. */
  indexWriteUnits: number;
  /** Read units as AWS bills them. */
  readUnits: number;
  /** What DynamoDB Local reported in ConsumedCapacity (table and indexes), for comparison. */
  reportedUnits: number;
  /** Extra HTTP attempts the SDK made (each one reaches the service). */
  retries: number;
}

export interface SqsOpCount {
  calls: number;
  failed: number;
  /** Requests as billed: each 64 KB of a request's payload counts as one. */
  billedRequests: number;
  /** Messages sent, received or deleted by the calls. */
  messages: number;
  /** Receives that came back empty (polling an idle queue). */
  emptyReceives: number;
  retries: number;
}

/** What invoked a function: each has its own price (a Function URL adds nothing to Lambda's). */
export type InvocationSource = 'functionUrl' | 'httpApi' | 'eventSource';

export interface FunctionCount {
  invocations: number;
  /** Invocations by what invoked them. */
  bySource: Partial<Record<InvocationSource, number>>;
  errors: number;
  totalMs: number;
  /** Durations rounded up to the millisecond, as Lambda bills them. */
  billedMs: number;
  /** Most invocations of this function running at once. */
  peakConcurrency: number;
}

export interface CallerCounts {
  dynamodb: Record<string, DynamoOpCount>;
  /** DynamoDB calls (and those refused) by operation and item kind: `UpdateItem senderSchedule`. */
  callsByTarget: Record<string, { calls: number; failed: number }>;
  /** The DynamoDB units, by the kind of item they were spent on (itemKind below). */
  byItemKind: Record<string, ItemKindUnits>;
  sqs: Record<string, SqsOpCount>;
  logBytes: number;
  logLines: number;
}

/** DynamoDB units by the kind of item they were spent on (recipient, history entry, counter, …). */
export interface ItemKindUnits {
  writeUnits: number;
  indexWriteUnits: number;
  readUnits: number;
}

export interface CountSnapshot {
  /** By the function whose invocation made the request, or `eventSourceMapping` for the pollers. */
  byCaller: Record<string, CallerCounts>;
  functions: Record<string, FunctionCount>;
}

export const EVENT_SOURCE_MAPPING = 'eventSourceMapping';
export const OUTSIDE_INVOCATIONS = 'outsideInvocations';

const READ_OPS = ['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems'] as const;
const WRITE_OPS = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems'] as const;
const DATA_OPS = new Set<string>([...READ_OPS, ...WRITE_OPS]);
export const isDynamoRead = (op: string) => (READ_OPS as readonly string[]).includes(op);

type Json = Record<string, unknown>;

/** A table as the meter needs it: its key attributes and global secondary indexes. */
export interface MeteredTable {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey?: string;
  readonly indexes: readonly IndexKeys[];
}

/**
 * What an item is, from its key, for the units-by-kind breakdown (functions/adapters/table-layout.ts
 * and dynamo-contact-store.ts lay the keys out).
 */
export function itemKind(pk: unknown, sk: unknown): string {
  const p = String(pk ?? '');
  const s = String(sk ?? '');
  if (p.startsWith('TENANT#') && s.startsWith('BROADCAST#')) return 'broadcast';
  if (/^BROADCAST#[^#]+#S\d{2}$/.test(p)) return 'recipient';
  if (p.startsWith('BROADCAST#') && s.startsWith('CHUNK#')) return 'chunk';
  if (p.startsWith('BROADCAST#') && s.startsWith('FANOUT#')) return 'fanOutState';
  if (p.startsWith('BROADCAST#') && s.startsWith('COUNTS#')) return 'counter';
  if (p.startsWith('CONTACT#')) return 'history';
  if (p.startsWith('SUPPRESS#')) return 'suppression';
  if (p.startsWith('PACE#')) return 'senderSchedule';
  if (p.startsWith('ACTIVITY#')) return 'activity';
  if (p.startsWith('SID#')) return 'sidIndex';
  if (p.startsWith('IDEM#') || p.startsWith('FP#')) return 'idempotency';
  if (p.startsWith('INBOUND#')) return 'inbound';
  if (p.startsWith('APIKEY#') || p.startsWith('KEY#')) return 'apiKey';
  return p.split('#')[0] || 'other';
}

export class AwsRequestCounter {
  readonly #caller = new AsyncLocalStorage<string>();
  readonly #consumedCapacity: boolean;
  #counts: CountSnapshot = { byCaller: {}, functions: {} };
  readonly #running = new Map<string, number>();
  #functionUrlHosts = new Set<string>();
  #meter: DynamoMeter | undefined;

  /**
   * `consumedCapacity` false: count calls and invocations only, with no unit arithmetic and nothing
   * asked of DynamoDB Local beyond the handlers' own calls (for throughput figures).
   */
  constructor(options: { consumedCapacity?: boolean } = {}) {
    this.#consumedCapacity = options.consumedCapacity ?? true;
  }

  /** Forgets everything counted so far (the item copies the meter keeps stay). */
  reset(): void {
    this.#counts = { byCaller: {}, functions: {} };
  }

  /** DynamoDB calls so far, every caller: cheap enough to sample each second. */
  dynamoCalls(): number {
    let calls = 0;
    for (const caller of Object.values(this.#counts.byCaller))
      for (const count of Object.values(caller.dynamodb)) calls += count.calls;
    return calls;
  }

  /** Invocations of a function so far. */
  invocationsOf(functionName: string): number {
    return this.#counts.functions[functionName]?.invocations ?? 0;
  }

  /** Invocations of each function running now. */
  runningNow(): Record<string, number> {
    return Object.fromEntries(this.#running);
  }

  /** A copy of the counts, once the meter's pending reads (of queries it re-reads) are done. */
  async snapshot(): Promise<CountSnapshot> {
    await this.#meter?.settled();
    return structuredClone(this.#counts);
  }

  /** Hosts (`127.0.0.1:port`) of the twin's Function URLs: HTTP invocations there are not API Gateway's. */
  setFunctionUrlHosts(hosts: readonly string[]): void {
    this.#functionUrlHosts = new Set(hosts);
  }

  /** For the twin's `instrument.wrapInvoke`: counts and times each invocation and names its requests. */
  readonly wrapInvoke = (functionName: string, invoke: Invoke): Invoke => {
    return async (event) => {
      const started = performance.now();
      const source = this.#sourceOf(event);
      const running = (this.#running.get(functionName) ?? 0) + 1;
      this.#running.set(functionName, running);
      const fn = this.#function(functionName);
      fn.peakConcurrency = Math.max(fn.peakConcurrency, running);
      let failed = false;
      try {
        return await this.#caller.run(functionName, () => invoke(event));
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        const ms = performance.now() - started;
        this.#running.set(functionName, (this.#running.get(functionName) ?? 1) - 1);
        const count = this.#function(functionName);
        count.invocations++;
        count.bySource[source] = (count.bySource[source] ?? 0) + 1;
        if (failed) count.errors++;
        count.totalMs += ms;
        count.billedMs += Math.max(1, Math.ceil(ms));
      }
    };
  };

  #sourceOf(event: unknown): InvocationSource {
    const context = (event as { requestContext?: { http?: unknown; domainName?: string } } | null)
      ?.requestContext;
    if (!context?.http) return 'eventSource';
    return context.domainName && this.#functionUrlHosts.has(context.domainName) ? 'functionUrl' : 'httpApi';
  }

  #function(name: string): FunctionCount {
    this.#counts.functions[name] ??= {
      invocations: 0,
      bySource: {},
      errors: 0,
      totalMs: 0,
      billedMs: 0,
      peakConcurrency: 0,
    };
    return this.#counts.functions[name];
  }

  /**
   * Counts a DynamoDB document client's requests (calls, and with `consumedCapacity` their units
   * through a meter reading the table at `endpoint` with a client of its own, never counted).
   */
  async countDynamo(
    client: DynamoDBDocumentClient,
    options: {
      endpoint: string;
      region: string;
      credentials: { accessKeyId: string; secretAccessKey: string };
      tables: readonly MeteredTable[];
    },
  ): Promise<void> {
    if (this.#consumedCapacity) {
      const raw = new DynamoDBClient({
        endpoint: options.endpoint,
        region: options.region,
        credentials: options.credentials,
      });
      this.#meter = new DynamoMeter(raw, options.tables, (kind, units) => {
        // Called within the request's own async context: the caller is the invocation that made it.
        const byKind = this.#callerCounts(this.#currentCaller()).byItemKind;
        byKind[kind] ??= { writeUnits: 0, indexWriteUnits: 0, readUnits: 0 };
        const k = byKind[kind];
        k.writeUnits += units.writeUnits ?? 0;
        k.indexWriteUnits += units.indexWriteUnits ?? 0;
        k.readUnits += units.readUnits ?? 0;
      });
      await this.#meter.seed();
    }
    const meter = this.#meter;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const op = (context.commandName ?? 'unknown').replace(/Command$/, '');
        const caller = this.#currentCaller();
        const input = args.input as Json;
        const items = dynamoItems(op, input);
        const target = `${op} ${targetOf(op, input)}`;
        const metered = meter && DATA_OPS.has(op) ? meter.prepare(op, input) : undefined;
        const asked = metered
          ? { ...args, input: { ...metered.input, ReturnConsumedCapacity: 'INDEXES' } }
          : args;
        try {
          const result = await next(asked);
          const output = result.output as Json & { $metadata?: { attempts?: number } };
          const count = this.#dynamoOp(caller, op);
          count.calls++;
          count.items += items;
          count.retries += Math.max(0, (output.$metadata?.attempts ?? 1) - 1);
          this.#target(caller, target).calls++;
          if (metered && meter) {
            count.reportedUnits += reportedUnits(output.ConsumedCapacity);
            const units = await meter.succeeded(op, input, output, metered, (readUnits) => {
              // A filtered or projected query's units come once the meter has read it again.
              count.readUnits += readUnits;
            });
            count.writeUnits += units.writeUnits;
            count.indexWriteUnits += units.indexWriteUnits;
            count.readUnits += units.readUnits;
            // The handler gets the answer it asked for.
            if (metered.stripAttributes) delete output.Attributes;
            delete output.ConsumedCapacity;
          }
          return result;
        } catch (error) {
          const count = this.#dynamoOp(caller, op);
          count.calls++;
          count.failed++;
          count.items += items;
          count.failedItems += items;
          const t = this.#target(caller, target);
          t.calls++;
          t.failed++;
          if (metered && meter) {
            const units = meter.failed(op, input, error, metered);
            count.writeUnits += units.writeUnits;
            count.readUnits += units.readUnits;
            if (metered.stripErrorItem && error && typeof error === 'object') delete (error as Json).Item;
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'benchDynamoRequestCounter' },
    );
  }

  /**
   * Counts an SQS client's requests. `caller` pins them to one name (the event-source pollers'
   * client); otherwise they go to the function whose invocation made them.
   */
  countSqs(client: SQSClient, options: { caller?: string; chunkBytes: number }): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const op = (context.commandName ?? 'unknown').replace(/Command$/, '');
        const caller = options.caller ?? this.#currentCaller();
        const input = args.input as Json;
        try {
          const result = await next(args);
          const output = result.output as Json & { $metadata?: { attempts?: number } };
          const { messages, bytes } = sqsPayload(op, input, output);
          const count = this.#sqsOp(caller, op);
          count.calls++;
          count.messages += messages;
          count.billedRequests += Math.max(1, Math.ceil(bytes / options.chunkBytes));
          if (op === 'ReceiveMessage' && messages === 0) count.emptyReceives++;
          count.retries += Math.max(0, (output.$metadata?.attempts ?? 1) - 1);
          return result;
        } catch (error) {
          const count = this.#sqsOp(caller, op);
          count.calls++;
          count.failed++;
          count.billedRequests++;
          throw error;
        }
      },
      { step: 'initialize', name: 'benchSqsRequestCounter' },
    );
  }

  /**
   * Counts what is written to a stream inside an invocation (the handlers' Powertools log lines), by
   * the function writing: what CloudWatch Logs would ingest on AWS. The bytes still go to the stream.
   */
  countLogs(stream: NodeJS.WriteStream): void {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const caller = this.#caller.getStore();
      if (caller) {
        const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
        const counts = this.#callerCounts(caller);
        counts.logBytes += Buffer.byteLength(text);
        counts.logLines += text.split('\n').filter((line) => line.trim() !== '').length;
      }
      return original(chunk, ...rest);
    }) as typeof stream.write;
  }

  #currentCaller(): string {
    return this.#caller.getStore() ?? OUTSIDE_INVOCATIONS;
  }

  #callerCounts(caller: string): CallerCounts {
    this.#counts.byCaller[caller] ??= {
      dynamodb: {},
      callsByTarget: {},
      byItemKind: {},
      sqs: {},
      logBytes: 0,
      logLines: 0,
    };
    return this.#counts.byCaller[caller];
  }

  #dynamoOp(caller: string, op: string): DynamoOpCount {
    const counts = this.#callerCounts(caller).dynamodb;
    counts[op] ??= {
      calls: 0,
      failed: 0,
      items: 0,
      failedItems: 0,
      writeUnits: 0,
      indexWriteUnits: 0,
      readUnits: 0,
      reportedUnits: 0,
      retries: 0,
    };
    return counts[op];
  }

  #target(caller: string, target: string): { calls: number; failed: number } {
    const targets = this.#callerCounts(caller).callsByTarget;
    targets[target] ??= { calls: 0, failed: 0 };
    return targets[target];
  }

  #sqsOp(caller: string, op: string): SqsOpCount {
    const counts = this.#callerCounts(caller).sqs;
    counts[op] ??= { calls: 0, failed: 0, billedRequests: 0, messages: 0, emptyReceives: 0, retries: 0 };
    return counts[op];
  }
}

/** Units one request cost. */
interface Units {
  writeUnits: number;
  indexWriteUnits: number;
  readUnits: number;
}
const NO_UNITS: Units = { writeUnits: 0, indexWriteUnits: 0, readUnits: 0 };

/** What the meter changed in a request, to undo in its answer. */
interface Prepared {
  readonly input: Json;
  /** The handler did not ask for the item back: the meter did (ALL_NEW), so it is removed. */
  readonly stripAttributes: boolean;
  /** Likewise for the item a failed condition returns. */
  readonly stripErrorItem: boolean;
}

/**
 * Keeps a copy of every item of the metered tables, and turns each request into the units AWS would
 * bill for it (bench/dynamo-units.ts). Sizes come from the items themselves; nothing is estimated.
 */
export class DynamoMeter {
  readonly #raw: DynamoDBClient;
  /** The bench's own client on the same endpoint: never counted (no middleware). */
  readonly #doc: DynamoDBDocumentClient;
  readonly #tables: Map<string, MeteredTable>;
  readonly #items = new Map<string, Item>();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #onKind: (kind: string, units: Partial<Units>) => void;

  constructor(
    raw: DynamoDBClient,
    tables: readonly MeteredTable[],
    onKind: (kind: string, units: Partial<Units>) => void = () => {},
  ) {
    this.#raw = raw;
    this.#doc = DynamoDBDocumentClient.from(raw);
    this.#tables = new Map(tables.map((t) => [t.name, t]));
    this.#onKind = onKind;
  }

  /** Reads every item of the metered tables (once, before the run): the copies the writes then keep. */
  async seed(): Promise<void> {
    for (const table of this.#tables.values()) {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await this.#raw.send(
          new ScanCommand({ TableName: table.name, ConsistentRead: true, ExclusiveStartKey: start as never }),
        );
        for (const raw of page.Items ?? []) {
          const item = unmarshall(raw);
          this.#items.set(this.#key(table, item), item);
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }
  }

  /** Waits for the reads the meter does after the fact (queries read again without their filter). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** The request as sent: an UpdateItem asks for its new item (and the old one when refused). */
  prepare(op: string, input: Json): Prepared {
    if (op !== 'UpdateItem') return { input, stripAttributes: false, stripErrorItem: false };
    const asked = input.ReturnValues as string | undefined;
    const askedOnFailure = input.ReturnValuesOnConditionCheckFailure as string | undefined;
    const wantsNew = asked === undefined || asked === 'NONE';
    const wantsOld = askedOnFailure === undefined || askedOnFailure === 'NONE';
    return {
      input: {
        ...input,
        ...(wantsNew ? { ReturnValues: 'ALL_NEW' } : {}),
        ...(wantsOld ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } : {}),
      },
      stripAttributes: wantsNew,
      stripErrorItem: wantsOld,
    };
  }

  /**
   * Units of a request that succeeded; `later` receives read units settled after the fact (a query
   * with a filter or projection, read again without them).
   */
  async succeeded(
    op: string,
    input: Json,
    output: Json,
    prepared: Prepared,
    later: (readUnits: number) => void = () => {},
  ): Promise<Units> {
    switch (op) {
      case 'PutItem': {
        const table = this.#table(input.TableName);
        const after = input.Item as Item;
        return this.#write(table, this.#key(table, after), after, { transactional: false });
      }
      case 'UpdateItem': {
        const table = this.#table(input.TableName);
        const key = this.#key(table, input.Key as Item);
        const returned = prepared.input.ReturnValues;
        const after =
          returned === 'ALL_NEW'
            ? (output.Attributes as Item | undefined)
            : await this.#readBack(table, input.Key as Item);
        return this.#write(table, key, after, { transactional: false });
      }
      case 'DeleteItem': {
        const table = this.#table(input.TableName);
        return this.#write(table, this.#key(table, input.Key as Item), undefined, { transactional: false });
      }
      case 'BatchWriteItem': {
        const units = { ...NO_UNITS };
        const unprocessed = (output.UnprocessedItems ?? {}) as Record<string, Json[]>;
        for (const [name, requests] of Object.entries((input.RequestItems ?? {}) as Record<string, Json[]>)) {
          const table = this.#table(name);
          const left = new Set((unprocessed[name] ?? []).map((r) => JSON.stringify(r)));
          for (const request of requests) {
            if (left.has(JSON.stringify(request))) continue;
            const put = request.PutRequest as { Item: Item } | undefined;
            const del = request.DeleteRequest as { Key: Item } | undefined;
            const u = put
              ? this.#write(table, this.#key(table, put.Item), put.Item, { transactional: false })
              : del
                ? this.#write(table, this.#key(table, del.Key), undefined, { transactional: false })
                : NO_UNITS;
            add(units, u);
          }
        }
        return units;
      }
      case 'TransactWriteItems': {
        const units = { ...NO_UNITS };
        for (const entry of (input.TransactItems ?? []) as Json[]) {
          const [kind, request] = Object.entries(entry)[0] as [string, Json];
          const table = this.#table(request.TableName);
          if (kind === 'Put') {
            const item = request.Item as Item;
            add(units, this.#write(table, this.#key(table, item), item, { transactional: true }));
          } else if (kind === 'Delete') {
            add(
              units,
              this.#write(table, this.#key(table, request.Key as Item), undefined, { transactional: true }),
            );
          } else if (kind === 'Update') {
            const after = await this.#readBack(table, request.Key as Item);
            add(
              units,
              this.#write(table, this.#key(table, request.Key as Item), after, { transactional: true }),
            );
          } else {
            // ConditionCheck: two underlying operations on the item, which does not change.
            const key = this.#key(table, request.Key as Item);
            const size = itemBytes(this.#items.get(key));
            const u = {
              writeUnits: writeUnits(size, { transactional: true }),
              indexWriteUnits: 0,
              readUnits: 0,
            };
            this.#onKind(this.#kindOfKey(table, request.Key as Item), u);
            add(units, u);
          }
        }
        return units;
      }
      case 'GetItem': {
        const table = this.#table(input.TableName);
        const key = this.#key(table, input.Key as Item);
        // A projection does not make the read cheaper: the whole item is read.
        const item = input.ProjectionExpression ? this.#items.get(key) : (output.Item as Item | undefined);
        const u = readUnits(itemBytes(item), input.ConsistentRead ? 'strong' : 'eventual');
        this.#onKind(this.#kindOfKey(table, input.Key as Item), { readUnits: u });
        return { ...NO_UNITS, readUnits: u };
      }
      case 'BatchGetItem': {
        let total = 0;
        const unprocessed = (output.UnprocessedKeys ?? {}) as Record<string, { Keys?: Json[] }>;
        for (const [name, request] of Object.entries((input.RequestItems ?? {}) as Record<string, Json>)) {
          const table = this.#table(name);
          const left = new Set((unprocessed[name]?.Keys ?? []).map((k) => this.#key(table, k as Item)));
          for (const k of (request.Keys ?? []) as Item[]) {
            const key = this.#key(table, k);
            if (left.has(key)) continue;
            // Each item is rounded up to 4 KB on its own.
            const u = readUnits(
              itemBytes(this.#items.get(key)),
              request.ConsistentRead ? 'strong' : 'eventual',
            );
            this.#onKind(this.#kindOfKey(table, k), { readUnits: u });
            total += u;
          }
        }
        return { ...NO_UNITS, readUnits: total };
      }
      case 'TransactGetItems': {
        let total = 0;
        for (const entry of (input.TransactItems ?? []) as Json[]) {
          const request = entry.Get as Json;
          const table = this.#table(request.TableName);
          const u = readUnits(
            itemBytes(this.#items.get(this.#key(table, request.Key as Item))),
            'transactional',
          );
          this.#onKind(this.#kindOfKey(table, request.Key as Item), { readUnits: u });
          total += u;
        }
        return { ...NO_UNITS, readUnits: total };
      }
      case 'Query':
      case 'Scan':
        return this.#queried(op, input, output, later);
      default:
        return NO_UNITS;
    }
  }

  /** Units of a refused request: a failed condition costs the write; a cancelled transaction every item, twice. */
  failed(op: string, input: Json, error: unknown, _prepared: Prepared): Units {
    const name = (error as { name?: string } | undefined)?.name;
    const conditionFailed = name === 'ConditionalCheckFailedException';
    if (op === 'TransactWriteItems' && name === 'TransactionCanceledException') {
      const units = { ...NO_UNITS };
      for (const entry of (input.TransactItems ?? []) as Json[]) {
        const [, request] = Object.entries(entry)[0] as [string, Json];
        const table = this.#table(request.TableName);
        const keyItem = (request.Key ?? request.Item) as Item;
        const current = itemBytes(this.#items.get(this.#key(table, keyItem)));
        const attempted = request.Item ? itemBytes(request.Item as Item) : 0;
        const u = writeUnits(Math.max(current, attempted), { transactional: true });
        this.#onKind(this.#kindOfKey(table, keyItem), { writeUnits: u });
        units.writeUnits += u;
      }
      return units;
    }
    if (!conditionFailed || !['PutItem', 'UpdateItem', 'DeleteItem'].includes(op)) return NO_UNITS;
    const table = this.#table(input.TableName);
    const keyItem = (input.Key ?? input.Item) as Item;
    const key = this.#key(table, keyItem);
    // The item as it is, when DynamoDB returned it with the refusal (it is in its typed form).
    const returned = (error as { Item?: Record<string, unknown> }).Item;
    if (returned) this.#items.set(key, unmarshall(returned as never));
    // AWS: on an existing item, the units of the item the write would have made; on a new one, 1.
    // An update's would-be item is not known here: the item as it is stands for it.
    const current = this.#items.get(key);
    const u = !current
      ? 1
      : writeUnits(op === 'PutItem' ? itemBytes(input.Item as Item) : itemBytes(current));
    this.#onKind(this.#kindOfKey(table, keyItem), { writeUnits: u });
    return { ...NO_UNITS, writeUnits: u };
  }

  /** One item write from its copy to `after`: table units (×2 in a transaction) and index units. */
  #write(
    table: MeteredTable,
    key: string,
    after: Item | undefined,
    options: { transactional: boolean },
  ): Units {
    const before = this.#items.get(key);
    if (after) this.#items.set(key, after);
    else this.#items.delete(key);
    const units = writeUnits(Math.max(itemBytes(before), itemBytes(after)), options);
    const index = Object.values(indexWriteUnits(before, after, table.indexes)).reduce((a, b) => a + b, 0);
    const sample = (after ?? before ?? {}) as Item;
    this.#onKind(this.#kindOfKey(table, sample), { writeUnits: units, indexWriteUnits: index });
    return { writeUnits: units, indexWriteUnits: index, readUnits: 0 };
  }

  /**
   * A Query or Scan is billed on the items it read, before any filter, whole (a projection does not
   * reduce it): those it returned, or, with a filter or projection, those the same request reads
   * without them (read again by the bench's own client, after the fact).
   */
  #queried(op: string, input: Json, output: Json, later: (readUnits: number) => void): Units {
    const consistency: ReadConsistency = input.ConsistentRead && !input.IndexName ? 'strong' : 'eventual';
    const table = this.#table(input.TableName);
    if (!input.FilterExpression && !input.ProjectionExpression && input.Select !== 'COUNT') {
      const items = (output.Items ?? []) as Item[];
      return { ...NO_UNITS, readUnits: this.#queryUnits(table, items, consistency, input) };
    }
    // Read again without the filter and projection: the units are settled when that answer comes.
    const pending = this.#readUnfiltered(op, input).then((items) =>
      later(this.#queryUnits(table, items, consistency, input)),
    );
    this.#pending.add(pending);
    void pending.finally(() => this.#pending.delete(pending));
    return NO_UNITS;
  }

  #queryUnits(
    table: MeteredTable,
    items: readonly Item[],
    consistency: ReadConsistency,
    input: Json,
  ): number {
    const bytes = items.reduce((sum, item) => sum + itemBytes(item), 0);
    const units = readUnits(bytes, consistency);
    const first = items[0];
    const kind = first
      ? this.#kindOfKey(table, first)
      : `query:${String(input.IndexName ?? (input.ExpressionAttributeValues as Json | undefined)?.[':pk'] ?? 'table').split('#')[0]}`;
    this.#onKind(kind, { readUnits: units });
    return units;
  }

  async #readUnfiltered(op: string, input: Json): Promise<Item[]> {
    const keyCondition = String(input.KeyConditionExpression ?? '');
    const used = (placeholders: Json | undefined) =>
      Object.fromEntries(Object.entries(placeholders ?? {}).filter(([name]) => keyCondition.includes(name)));
    const names = used(input.ExpressionAttributeNames as Json | undefined);
    const values = used(input.ExpressionAttributeValues as Json | undefined);
    const request = {
      TableName: input.TableName as string,
      ...(input.IndexName ? { IndexName: input.IndexName as string } : {}),
      ...(keyCondition ? { KeyConditionExpression: keyCondition } : {}),
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names as Record<string, string> } : {}),
      ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
      ...(input.Limit !== undefined ? { Limit: input.Limit as number } : {}),
      ...(input.ExclusiveStartKey ? { ExclusiveStartKey: input.ExclusiveStartKey as Item } : {}),
      ...(input.ScanIndexForward !== undefined
        ? { ScanIndexForward: input.ScanIndexForward as boolean }
        : {}),
      ...(input.ConsistentRead ? { ConsistentRead: true } : {}),
    };
    const result = await this.#doc.send(
      op === 'Scan' ? new DocScanCommand(request) : new QueryCommand(request),
    );
    return (result.Items ?? []) as Item[];
  }

  /** The item as it is now, read by the bench's own client (after a write that did not return it). */
  async #readBack(table: MeteredTable, key: Item): Promise<Item | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: table.name, Key: this.#keyOnly(table, key), ConsistentRead: true }),
    );
    return Item;
  }

  #table(name: unknown): MeteredTable {
    const table = this.#tables.get(String(name));
    if (!table) throw new Error(`the meter does not know table ${String(name)}`);
    return table;
  }

  #keyOnly(table: MeteredTable, item: Item): Item {
    return {
      [table.partitionKey]: item[table.partitionKey],
      ...(table.sortKey ? { [table.sortKey]: item[table.sortKey] } : {}),
    };
  }

  #key(table: MeteredTable, item: Item): string {
    return JSON.stringify([table.name, item[table.partitionKey], table.sortKey ? item[table.sortKey] : null]);
  }

  #kindOfKey(table: MeteredTable, item: Item): string {
    return itemKind(item[table.partitionKey], table.sortKey ? item[table.sortKey] : undefined);
  }
}

function add(units: Units, more: Units): void {
  units.writeUnits += more.writeUnits;
  units.indexWriteUnits += more.indexWriteUnits;
  units.readUnits += more.readUnits;
}

/** What a request is about, by item kind (single-item requests and queries; `several` otherwise). */
function targetOf(op: string, input: Json): string {
  const key = (input.Key ?? input.Item) as Json | undefined;
  if (key) return itemKind(key.pk, key.sk);
  if (op === 'Query') {
    if (input.IndexName) return `index ${String(input.IndexName)}`;
    const values = (input.ExpressionAttributeValues ?? {}) as Json;
    return values[':pk'] === undefined ? 'table' : itemKind(values[':pk'], values[':prefix'] ?? '');
  }
  return 'several';
}

/** Items a DynamoDB request names: several for a transaction or a batch. */
export function dynamoItems(op: string, input: Json): number {
  if (op === 'TransactWriteItems' || op === 'TransactGetItems')
    return Array.isArray(input.TransactItems) ? input.TransactItems.length : 1;
  if (op === 'BatchWriteItem' || op === 'BatchGetItem') {
    let items = 0;
    for (const request of Object.values((input.RequestItems ?? {}) as Json))
      items += Array.isArray(request)
        ? request.length
        : Array.isArray((request as Json)?.Keys)
          ? ((request as Json).Keys as unknown[]).length
          : 0;
    return Math.max(1, items);
  }
  return 1;
}

/** Sums a ConsumedCapacity answer (one object, or one per table for batches and transactions). */
export function reportedUnits(consumed: unknown): number {
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  let units = 0;
  for (const entry of list as Json[]) units += Number(entry.CapacityUnits ?? 0);
  return units;
}

/** Messages a request carried, and the payload bytes SQS bills in 64 KB chunks. */
function sqsPayload(op: string, input: Json, output: Json): { messages: number; bytes: number } {
  const size = (value: unknown) => (value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value)));
  const body = (message: Json) =>
    Buffer.byteLength(String(message.MessageBody ?? message.Body ?? '')) + size(message.MessageAttributes);
  switch (op) {
    case 'SendMessage':
      return { messages: 1, bytes: body(input) };
    case 'SendMessageBatch': {
      const entries = (input.Entries ?? []) as Json[];
      return { messages: entries.length, bytes: entries.reduce((sum, e) => sum + body(e), 0) };
    }
    case 'ReceiveMessage': {
      const messages = (output.Messages ?? []) as Json[];
      return { messages: messages.length, bytes: messages.reduce((sum, m) => sum + body(m), 0) };
    }
    case 'DeleteMessageBatch':
    case 'ChangeMessageVisibilityBatch':
      return { messages: ((input.Entries ?? []) as unknown[]).length, bytes: 0 };
    default:
      return { messages: 0, bytes: 0 };
  }
}
