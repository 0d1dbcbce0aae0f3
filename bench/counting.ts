/**
 * Counts, during a run, what AWS would bill: every DynamoDB and SQS request the handlers and the
 * event-source pollers make (AWS SDK middleware on the clients they share), every Lambda
 * invocation and its duration, and the bytes the handlers log. Each request is put down to the
 * function whose invocation made it (AsyncLocalStorage), so a run can leave out what the bench
 * itself caused (its progress polling).
 *
 * DynamoDB's own unit arithmetic is used, not an estimate: the middleware asks each data-plane
 * request for ReturnConsumedCapacity=INDEXES, and DynamoDB Local answers with the units the item
 * sizes and index writes cost. What it does not do, bench/cost.ts does (transactions cost double).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Invoke } from '../lib/local/lambda-runtime.ts';

export interface DynamoOpCount {
  calls: number;
  /** Calls that failed (a condition not met, a cancelled transaction): AWS bills them too. */
  failed: number;
  /** Items the calls named (a transaction or batch names several). */
  items: number;
  failedItems: number;
  /** Capacity units DynamoDB reported for the successful calls, index writes included. */
  units: number;
  /** Of `units`, those spent on global secondary indexes. */
  gsiUnits: number;
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

export interface FunctionCount {
  invocations: number;
  errors: number;
  totalMs: number;
  /** Durations rounded up to the millisecond, as Lambda bills them. */
  billedMs: number;
}

export interface CallerCounts {
  dynamodb: Record<string, DynamoOpCount>;
  sqs: Record<string, SqsOpCount>;
  logBytes: number;
  logLines: number;
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
export const isDynamoTransaction = (op: string) => op.startsWith('Transact');

type Json = Record<string, unknown>;

export class AwsRequestCounter {
  readonly #caller = new AsyncLocalStorage<string>();
  readonly #consumedCapacity: boolean;
  #counts: CountSnapshot = { byCaller: {}, functions: {} };

  /**
   * `consumedCapacity` false: count calls only, without asking DynamoDB Local for its unit
   * arithmetic (a little work on the emulator a throughput figure should not carry).
   */
  constructor(options: { consumedCapacity?: boolean } = {}) {
    this.#consumedCapacity = options.consumedCapacity ?? true;
  }

  /** Forgets everything counted so far (e.g. between the send and the scheduled rules). */
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

  snapshot(): CountSnapshot {
    return structuredClone(this.#counts);
  }

  /** For the twin's `instrument.wrapInvoke`: counts and times each invocation and names its requests. */
  readonly wrapInvoke = (functionName: string, invoke: Invoke): Invoke => {
    return async (event) => {
      const started = performance.now();
      let failed = false;
      try {
        return await this.#caller.run(functionName, () => invoke(event));
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        const ms = performance.now() - started;
        this.#counts.functions[functionName] ??= { invocations: 0, errors: 0, totalMs: 0, billedMs: 0 };
        const fn = this.#counts.functions[functionName];
        fn.invocations++;
        if (failed) fn.errors++;
        fn.totalMs += ms;
        fn.billedMs += Math.max(1, Math.ceil(ms));
      }
    };
  };

  /** Counts a DynamoDB client's requests (the document client shares its client's middleware stack). */
  countDynamo(client: DynamoDBClient | DynamoDBDocumentClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const op = (context.commandName ?? 'unknown').replace(/Command$/, '');
        const caller = this.#currentCaller();
        const input = args.input as Json;
        const items = dynamoItems(op, input);
        const asked =
          this.#consumedCapacity && DATA_OPS.has(op)
            ? { ...args, input: { ...input, ReturnConsumedCapacity: 'INDEXES' } }
            : args;
        try {
          const result = await next(asked);
          const output = result.output as Json & { $metadata?: { attempts?: number } };
          const { units, gsiUnits } = consumedUnits(output.ConsumedCapacity);
          const count = this.#dynamoOp(caller, op);
          count.calls++;
          count.items += items;
          count.units += units;
          count.gsiUnits += gsiUnits;
          count.retries += Math.max(0, (output.$metadata?.attempts ?? 1) - 1);
          return result;
        } catch (error) {
          const count = this.#dynamoOp(caller, op);
          count.calls++;
          count.failed++;
          count.items += items;
          count.failedItems += items;
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
   * Counts what is written to a stream (the handlers' Powertools log lines), by the function
   * writing; what CloudWatch Logs would ingest on AWS. The bytes still go to the stream.
   */
  countLogs(stream: NodeJS.WriteStream): void {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
      const counts = this.#callerCounts(this.#currentCaller());
      counts.logBytes += Buffer.byteLength(text);
      counts.logLines += text.split('\n').filter((line) => line.trim() !== '').length;
      return original(chunk, ...rest);
    }) as typeof stream.write;
  }

  #currentCaller(): string {
    return this.#caller.getStore() ?? OUTSIDE_INVOCATIONS;
  }

  #callerCounts(caller: string): CallerCounts {
    this.#counts.byCaller[caller] ??= { dynamodb: {}, sqs: {}, logBytes: 0, logLines: 0 };
    return this.#counts.byCaller[caller];
  }

  #dynamoOp(caller: string, op: string): DynamoOpCount {
    const counts = this.#callerCounts(caller).dynamodb;
    counts[op] ??= { calls: 0, failed: 0, items: 0, failedItems: 0, units: 0, gsiUnits: 0, retries: 0 };
    return counts[op];
  }

  #sqsOp(caller: string, op: string): SqsOpCount {
    const counts = this.#callerCounts(caller).sqs;
    counts[op] ??= { calls: 0, failed: 0, billedRequests: 0, messages: 0, emptyReceives: 0, retries: 0 };
    return counts[op];
  }
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
export function consumedUnits(consumed: unknown): { units: number; gsiUnits: number } {
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  let units = 0;
  let gsiUnits = 0;
  for (const entry of list as Json[]) {
    units += Number(entry.CapacityUnits ?? 0);
    for (const index of Object.values((entry.GlobalSecondaryIndexes ?? {}) as Json))
      gsiUnits += Number((index as Json).CapacityUnits ?? 0);
  }
  return { units, gsiUnits };
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
