/**
 * The local stand-in for Lambda's DynamoDB Streams event source mapping: reads a table's stream
 * (DynamoDB Local implements the Streams API), hands batches of records to a function, in order, one
 * batch at a time per shard, and moves on only when the function succeeded.
 *
 * What it reproduces, as AWS documents the mapping:
 * - batches of up to `batchSize` records, gathered for at most `maxBatchingWindowSeconds`;
 * - filter criteria (a sort key prefix, or patterns on the record: stream-filter.ts), applied before
 *   the function sees a record; filtered records are consumed without an invocation;
 * - with ReportBatchItemFailures, a `batchItemFailures` answer: the records before the first one
 *   named are done, the rest retried (split there), as a failed batch's are;
 * - a batch that fails (throws, times out) is retried; with BisectBatchOnFunctionError it is split in
 *   two and each half retried, up to `retryAttempts` times, after which a record of the failed batch
 *   (its shard and sequence range, not its data) goes to the on-failure destination and the shard
 *   moves on;
 * - a record older than `maxRecordAgeSeconds` is not handed to the function: it is reported to the
 *   on-failure destination (condition RecordAgeExceeded) like a batch given up on;
 * - shards are read parent before child, records of one shard in order;
 * - a record's ApproximateCreationDateTime to the second (DynamoDB Local gives the minute alone).
 *
 * The checkpoint (the last sequence number done per shard) is kept under DATA_DIR, as the mapping
 * keeps its own: a restart resumes after it, and re-reading a record is harmless (consumers are
 * exactly-once by their own watermarks).
 */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type _Record,
  type AttributeValue,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type StreamConsumerSpec, streamFilterPatterns } from '../topology.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local.ts';
import { replacePrivateFile } from './data-dir.ts';
import type { Invoke } from './lambda-runtime.ts';
import { matchesAnyFilter } from './stream-filter.ts';

export interface StreamSourceOptions {
  readonly endpoint: string;
  readonly streamArn: string;
  readonly consumer: Pick<
    StreamConsumerSpec,
    | 'batchSize'
    | 'maxBatchingWindowSeconds'
    | 'sortKeyPrefix'
    | 'filters'
    | 'retryAttempts'
    | 'maxRecordAgeSeconds'
    | 'reportBatchItemFailures'
  >;
  readonly invoke: Invoke;
  /** Where a batch that kept failing is reported (the on-failure destination). */
  readonly onFailure: (failure: Record<string, unknown>) => Promise<void>;
  /** A JSON file for the checkpoints. */
  readonly checkpointFile: string;
  readonly log: (entry: Record<string, unknown>) => void;
  /**
   * Whether a REMOVE was Time to Live's (lib/local/ttl-local.ts): DynamoDB Local does not run TTL,
   * so its records never carry the identity AWS gives those (`userIdentity` type Service, principal
   * dynamodb.amazonaws.com); the source adds it to the ones this names.
   */
  readonly deletedByTimeToLive?: (keys: Record<string, AttributeValue> | undefined) => boolean;
  /**
   * Time between the starts of two reads of a shard, unless the last read filled its page (a
   * backlog, read at once). Lambda "polls shards in your DynamoDB stream for records at a base rate
   * of 4 times per second" (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): 250 ms.
   * Reading back to back whenever records flow would cost DynamoDB Local (one process for the whole
   * twin) more than the writes it follows.
   */
  readonly pollIntervalMs?: number;
  /**
   * Time between two reads of a shard that has brought nothing for `IDLE_AFTER_MS`: 1,000 ms by
   * default, back to `pollIntervalMs` at the first record. Where the twin departs from Lambda, for
   * its own cost: an empty read costs DynamoDB Local about 5 ms of CPU and the SDK in the twin's
   * process about 4.5, so an idle twin spent 0.06 of a core reading its two consumers' stream four
   * times a second (of 0.165 in all, measured 2026-12-02). What it costs: the first record after
   * two quiet seconds waits up to 750 ms longer to be read.
   */
  readonly idlePollIntervalMs?: number;
}

export interface StreamSource {
  stop(): Promise<void>;
  /** Records handed to the function, invocations and GetRecords reads (for tests and the benchmark). */
  readonly stats: {
    readonly reads: number;
    readonly records: number;
    readonly invocations: number;
    readonly failedInvocations: number;
  };
}

/** GetRecords' largest page (its `Limit`'s maximum, DynamoDB Streams API reference). */
const RECORDS_PER_READ = 1000;

/** A shard read empty for this long is read every `idlePollIntervalMs` until its next record. */
const IDLE_AFTER_MS = 2000;

export function startStreamSource(options: StreamSourceOptions): StreamSource {
  const client = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const stats = { reads: 0, records: 0, invocations: 0, failedInvocations: 0 };
  const checkpoints: Record<string, string> = existsSync(options.checkpointFile)
    ? (JSON.parse(readFileSync(options.checkpointFile, 'utf8')) as Record<string, string>)
    : {};
  const saveCheckpoints = () =>
    replacePrivateFile(options.checkpointFile, `${JSON.stringify(checkpoints)}\n`);
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const idlePollIntervalMs = Math.max(pollIntervalMs, options.idlePollIntervalMs ?? 1000);
  const windowMs = options.consumer.maxBatchingWindowSeconds * 1000;
  const finished = new Set<string>();
  const reading = new Map<string, Promise<void>>();
  let stopping = false;
  const stopped = new AbortController();
  /** A pause stop() cuts short, so a stop never waits out a poll interval or a discovery's wait. */
  const pause = (ms: number) => sleep(ms, undefined, { signal: stopped.signal }).catch(() => undefined);

  const filters = streamFilterPatterns(options.consumer);
  const keep = (record: _Record) => matchesAnyFilter(record, filters);

  /** What Lambda sends its on-failure destination: where the records were, never their data. */
  function reportFailure(shardId: string, records: _Record[], condition: string, invokeCount: number) {
    return options.onFailure({
      requestContext: { condition, approximateInvokeCount: invokeCount },
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: records[0]?.dynamodb?.SequenceNumber,
        endSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber,
        batchSize: records.length,
        streamArn: options.streamArn,
      },
    });
  }

  const retryPauseMs = (attemptsLeft: number) =>
    Math.min(1000, 100 * 2 ** Math.min(10, Math.max(0, options.consumer.retryAttempts - attemptsLeft)));

  /** Invokes with retries and bisection; resolves once the records are done (or given up on). */
  async function deliver(shardId: string, batch: _Record[], attemptsLeft: number): Promise<void> {
    const maxAgeMs = options.consumer.maxRecordAgeSeconds * 1000;
    const tooOld = (r: _Record) =>
      Date.now() - new Date(r.dynamodb?.ApproximateCreationDateTime ?? Date.now()).getTime() > maxAgeMs;
    const expired = batch.filter(tooOld);
    if (expired.length > 0) await reportFailure(shardId, expired, 'RecordAgeExceeded', 0);
    const records = batch.filter((r) => !tooOld(r));
    if (records.length === 0) return;
    const event: DynamoDBStreamEvent = { Records: records.map((r) => toLambdaRecord(r, options.streamArn)) };
    stats.invocations += 1;
    try {
      const result = await options.invoke(event);
      const from = options.consumer.reportBatchItemFailures ? firstFailed(records, result) : -1;
      if (from < 0) {
        stats.records += records.length;
        return;
      }
      // ReportBatchItemFailures: the records before the first named are done; the rest are retried
      // (with BisectBatchOnFunctionError, the batch is split at that record).
      stats.records += from;
      stats.failedInvocations += 1;
      const rest = records.slice(from);
      options.log({
        level: 'WARN',
        message: 'stream batch partly failed; retried',
        shardId,
        records: rest.length,
        attemptsLeft,
      });
      if (attemptsLeft <= 0 || stopping) {
        if (stopping) throw new Error('stopping');
        await reportFailure(shardId, rest, 'RetryAttemptsExhausted', options.consumer.retryAttempts + 1);
        return;
      }
      await sleep(retryPauseMs(attemptsLeft));
      return deliver(shardId, rest, attemptsLeft - 1);
    } catch (error) {
      stats.failedInvocations += 1;
      options.log({
        level: 'WARN',
        message: 'stream batch failed; retried',
        shardId,
        records: records.length,
        attemptsLeft,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    if (attemptsLeft <= 0 || stopping) {
      if (stopping) throw new Error('stopping');
      await reportFailure(shardId, records, 'RetryAttemptsExhausted', options.consumer.retryAttempts + 1);
      return;
    }
    await sleep(retryPauseMs(attemptsLeft));
    if (records.length > 1) {
      const half = Math.ceil(records.length / 2);
      await deliver(shardId, records.slice(0, half), attemptsLeft - 1);
      await deliver(shardId, records.slice(half), attemptsLeft - 1);
    } else await deliver(shardId, records, attemptsLeft - 1);
  }

  async function readShard(shard: Shard): Promise<void> {
    const shardId = shard.ShardId as string;
    const iteratorFor = async () => {
      const after = checkpoints[shardId];
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamArn: options.streamArn,
          ShardId: shardId,
          ...(after
            ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }
            : { ShardIteratorType: 'TRIM_HORIZON' }),
        }),
      );
      return ShardIterator;
    };
    let iterator = await iteratorFor();
    const pending: _Record[] = [];
    let windowStarted = 0;
    let lastRecordAt = Date.now();
    while (!stopping && iterator) {
      let output: Awaited<ReturnType<typeof getRecords>>;
      const readStarted = Date.now();
      try {
        output = await getRecords(iterator);
      } catch (error) {
        if (error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException) {
          iterator = await iteratorFor();
          continue;
        }
        throw error;
      }
      const fresh = output.Records ?? [];
      if (fresh.length > 0) lastRecordAt = Date.now();
      for (const record of fresh) {
        if (record.eventName === 'REMOVE' && options.deletedByTimeToLive?.(record.dynamodb?.Keys))
          record.userIdentity = { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' };
        if (record.dynamodb) record.dynamodb.ApproximateCreationDateTime = toTheSecond(record, lastRecordAt);
      }
      iterator = output.NextShardIterator;
      if (pending.length === 0 && fresh.length > 0) windowStarted = Date.now();
      pending.push(...fresh);
      const full = pending.length >= options.consumer.batchSize;
      const windowOver = pending.length > 0 && Date.now() - windowStarted >= windowMs;
      if (full || windowOver || (pending.length > 0 && !iterator)) {
        while (pending.length > 0 && !stopping) {
          const batch = pending.splice(0, options.consumer.batchSize);
          const kept = batch.filter(keep);
          if (kept.length > 0) await deliver(shardId, kept, options.consumer.retryAttempts);
          const last = batch.at(-1)?.dynamodb?.SequenceNumber;
          if (last) {
            checkpoints[shardId] = last;
            saveCheckpoints();
          }
          if (pending.length < options.consumer.batchSize && iterator) break;
        }
        if (pending.length > 0) windowStarted = Date.now();
      }
      if (fresh.length < RECORDS_PER_READ) {
        const idle = Date.now() - lastRecordAt >= IDLE_AFTER_MS;
        const untilNextRead = readStarted + (idle ? idlePollIntervalMs : pollIntervalMs) - Date.now();
        // A batch being gathered is delivered when its window ends, even between two reads.
        const wait =
          pending.length > 0 ? Math.min(untilNextRead, windowStarted + windowMs - Date.now()) : untilNextRead;
        if (wait > 0) await pause(wait);
      }
    }
    if (!stopping) finished.add(shardId); // a closed shard, read to its end
  }

  const getRecords = (iterator: string) => {
    stats.reads += 1;
    return client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: RECORDS_PER_READ }));
  };

  let wakeDiscovery = new AbortController();
  /** Finds shards, starting a reader for each whose parent is done; a child waits for its parent. */
  async function discover(): Promise<void> {
    while (!stopping) {
      try {
        const { StreamDescription } = await client.send(
          new DescribeStreamCommand({ StreamArn: options.streamArn }),
        );
        const shards = StreamDescription?.Shards ?? [];
        const known = new Set(shards.map((s) => s.ShardId));
        for (const shard of shards) {
          const id = shard.ShardId as string;
          if (reading.has(id) || finished.has(id)) continue;
          const parent = shard.ParentShardId;
          if (parent && known.has(parent) && !finished.has(parent)) continue;
          const run = readShard(shard)
            .catch((error: unknown) => {
              if (!stopping)
                options.log({
                  level: 'ERROR',
                  message: 'stream shard reader failed; restarting',
                  shardId: id,
                  error: String(error),
                });
            })
            .finally(() => {
              reading.delete(id);
              // A shard read to its end (its children are to be found) or a reader to restart.
              wakeDiscovery.abort();
            });
          reading.set(id, run);
        }
      } catch (error) {
        if (!stopping)
          options.log({ level: 'WARN', message: 'stream describe failed', error: String(error) });
      }
      // While a reader runs, shards change only when one ends, which wakes this at once.
      await sleep(reading.size > 0 ? 10_000 : 2_000, undefined, {
        signal: AbortSignal.any([stopped.signal, wakeDiscovery.signal]),
      }).catch(() => undefined);
      if (wakeDiscovery.signal.aborted) wakeDiscovery = new AbortController();
    }
  }

  const discovering = discover();
  return {
    stats,
    async stop() {
      stopping = true;
      stopped.abort();
      await Promise.allSettled([discovering, ...reading.values()]);
      client.destroy();
    },
  };
}

/**
 * The index of the first record a partial batch response names (`batchItemFailures`), or -1 when it
 * names none. Lambda retries from the lowest sequence number named; an identifier that names no
 * record of the batch (empty, or unknown) fails the whole batch, as Lambda treats it.
 */
function firstFailed(records: readonly _Record[], result: unknown): number {
  const failures = (result as { batchItemFailures?: { itemIdentifier?: unknown }[] } | undefined)
    ?.batchItemFailures;
  if (!Array.isArray(failures) || failures.length === 0) return -1;
  let first = records.length;
  for (const failure of failures) {
    const index = records.findIndex((r) => r.dynamodb?.SequenceNumber === failure.itemIdentifier);
    if (index < 0) return 0;
    first = Math.min(first, index);
  }
  return first;
}

/**
 * A record's time to the second, as DynamoDB Streams gives it on AWS ("rounded down to the closest
 * second", ApproximateCreationDateTime in the Streams API reference). DynamoDB Local gives the minute
 * alone, so a change made and undone within a minute would read as simultaneous, or reversed: within
 * that minute the record was written no later than it was read, so it is read's second, capped at
 * the minute's last (a record read after its minute, e.g. after a restart, gets that last second).
 */
function toTheSecond(record: _Record, readAt: number): Date | undefined {
  const stamped = record.dynamodb?.ApproximateCreationDateTime;
  if (!stamped) return stamped;
  const ms = new Date(stamped).getTime();
  if (ms % 60_000 !== 0) return new Date(Math.floor(ms / 1000) * 1000);
  return new Date(Math.floor(Math.min(readAt, ms + 59_999) / 1000) * 1000);
}

/** A Streams API record as Lambda hands it to the function (the event's shape). */
function toLambdaRecord(record: _Record, streamArn: string): DynamoDBRecord {
  const data = record.dynamodb;
  return {
    eventID: record.eventID,
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: LOCAL_REGION,
    eventSourceARN: streamArn,
    ...(record.userIdentity
      ? { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } }
      : {}),
    dynamodb: {
      ...(data?.ApproximateCreationDateTime
        ? {
            ApproximateCreationDateTime: Math.floor(
              new Date(data.ApproximateCreationDateTime).getTime() / 1000,
            ),
          }
        : {}),
      Keys: data?.Keys as never,
      ...(data?.NewImage ? { NewImage: data.NewImage as never } : {}),
      ...(data?.OldImage ? { OldImage: data.OldImage as never } : {}),
      SequenceNumber: data?.SequenceNumber,
      SizeBytes: data?.SizeBytes,
      StreamViewType: data?.StreamViewType as never,
    },
  } as DynamoDBRecord;
}
