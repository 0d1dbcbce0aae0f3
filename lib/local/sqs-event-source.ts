/**
 * The local stand-in for Lambda's SQS event source mapping: polls a queue, hands batches
 * of records to a function, and deletes what the function processed.
 *
 * What it reproduces, as AWS documents the mapping:
 * - batches of up to `batchSize` records, gathered for at most `maxBatchingWindowSeconds`
 *   after the first record arrives (or until the 6 MB invocation payload limit);
 * - at most `maxConcurrency` invocations at once (ScalingConfig.MaximumConcurrency); while
 *   every slot is busy nothing is received, so no record ages in flight waiting for one;
 * - on success every record is deleted; with ReportBatchItemFailures only those not named
 *   in `batchItemFailures`; a malformed response, an unknown or empty `itemIdentifier`,
 *   an error or a timeout deletes none;
 * - records that are not deleted stay in flight until the queue's visibility timeout, then
 *   SQS redelivers them; the queue's RedrivePolicy (enforced by the emulator) moves them to
 *   the dead-letter queue after `maxReceiveCount` receives. Nothing here retries by itself.
 *
 * Polling: one poller gathers a batch at a time (so a batch fills before another starts),
 * long-polling while the queue is empty. When it invokes, a fresh poller takes over while
 * a slot is free, so a deep queue keeps `maxConcurrency` invocations busy.
 *
 * Long polls are short (`pollWaitSeconds`, 1 s by default, where Lambda uses 20 s) because
 * stop() lets the outstanding one finish rather than abort it: fauxqs does not notice a
 * client that hangs up, so an aborted long poll would still take the next message to arrive
 * (say, one an in-flight handler re-queues while stopping) and strand it in flight for a
 * whole visibility timeout.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import type { ConsumerSpec } from '../topology.ts';
import type { Invoke } from './lambda-runtime.ts';

export interface SqsEventSourceOptions {
  /** A client whose `endpoint` is set: queue URLs are then only addresses, never hosts to call. */
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  consumer: Pick<
    ConsumerSpec,
    'batchSize' | 'maxBatchingWindowSeconds' | 'maxConcurrency' | 'reportBatchItemFailures'
  >;
  functionName: string;
  invoke: Invoke;
  /** One structured entry per event worth seeing (failures); never carries message bodies. Default: JSON lines on stderr. */
  log?: (entry: Record<string, unknown>) => void;
  /** Region put on each record; defaults to the one in `queueArn`. */
  awsRegion?: string;
  /** Longest ReceiveMessage wait, 1..20 s (default 1); stop() may wait this long for the last poll. */
  pollWaitSeconds?: number;
}

export interface SqsEventSourceStats {
  /** Records received, counting every redelivery. */
  readonly received: number;
  readonly invocations: number;
  /** Invocations that threw, timed out, or returned a response Lambda would reject. */
  readonly failedInvocations: number;
  /** Records left in flight for SQS to redeliver (failed items, or whole failed batches). */
  readonly failedRecords: number;
  readonly deleted: number;
  /** Invocations running now. */
  readonly inFlight: number;
  readonly peakConcurrency: number;
  readonly receiveErrors: number;
  /** Records whose deletion failed (they will be redelivered: at-least-once). */
  readonly deleteErrors: number;
}

export interface SqsEventSource {
  /** Stops polling, invokes any batch already gathered, waits for in-flight invocations and their deletes. */
  stop(): Promise<void>;
  /** A snapshot of the counters. */
  readonly stats: SqsEventSourceStats;
}

/** Lambda's synchronous invocation payload limit. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** SQS returns at most 10 messages per ReceiveMessage / accepts 10 entries per DeleteMessageBatch. */
const SQS_MAX_BATCH = 10;
/** Short-poll cadence while the last second of a batching window runs out. */
const WINDOW_TAIL_POLL_MS = 50;
const RECEIVE_BACKOFF_MIN_MS = 100;
/** How long past its wait time a receive may take to answer before stop() gives up on it. */
const RECEIVE_GRACE_MS = 5_000;
const RECEIVE_BACKOFF_MAX_MS = 5_000;

export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  const runner = new EventSourceRunner(options);
  runner.start();
  return {
    stop: () => runner.stop(),
    get stats() {
      return { ...runner.stats };
    },
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

class EventSourceRunner {
  readonly stats: Mutable<SqsEventSourceStats> = {
    received: 0,
    invocations: 0,
    failedInvocations: 0,
    failedRecords: 0,
    deleted: 0,
    inFlight: 0,
    peakConcurrency: 0,
    receiveErrors: 0,
    deleteErrors: 0,
  };

  private readonly batchSize: number;
  private readonly windowMs: number;
  private readonly maxConcurrency: number;
  private readonly pollWaitSeconds: number;
  private readonly awsRegion: string;
  private readonly log: (entry: Record<string, unknown>) => void;

  private stopping = false;
  private stopped: Promise<void> | undefined;
  /** Live worker loops: the one gathering plus those invoking (never more than maxConcurrency). */
  private workers = 0;
  /** Workers gathering a batch: 0 or 1. */
  private collectors = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly receives = new Set<AbortController>();
  private readonly sleepers = new Set<() => void>();
  /** Records received past the payload limit; they open the next batch. */
  private carry: SizedRecord[] = [];
  private receiveFailuresInARow = 0;
  private readonly options: SqsEventSourceOptions;

  // No parameter properties: the file must also load under Node's type stripping.
  constructor(options: SqsEventSourceOptions) {
    this.options = options;
    const { batchSize, maxBatchingWindowSeconds, maxConcurrency } = options.consumer;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw new Error(`batchSize must be an integer in 1..10000, got ${batchSize}`);
    if (!(maxBatchingWindowSeconds >= 0 && maxBatchingWindowSeconds <= 300))
      throw new Error(`maxBatchingWindowSeconds must be in 0..300, got ${maxBatchingWindowSeconds}`);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1)
      throw new Error(`maxConcurrency must be a positive integer, got ${maxConcurrency}`);
    const pollWaitSeconds = options.pollWaitSeconds ?? 1;
    if (!Number.isInteger(pollWaitSeconds) || pollWaitSeconds < 1 || pollWaitSeconds > 20)
      throw new Error(`pollWaitSeconds must be an integer in 1..20, got ${pollWaitSeconds}`);
    this.batchSize = batchSize;
    this.windowMs = maxBatchingWindowSeconds * 1000;
    this.maxConcurrency = maxConcurrency;
    this.pollWaitSeconds = pollWaitSeconds;
    this.awsRegion = options.awsRegion ?? options.queueArn.split(':')[3] ?? 'us-east-1';
    this.log = options.log ?? ((entry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
  }

  start(): void {
    this.ensureCollector();
  }

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
    // Outstanding receives end on their own within pollWaitSeconds (what they bring is still
    // invoked); only one that hangs well past that, an unresponsive endpoint, is abandoned.
    const abandon = setTimeout(
      () => {
        for (const controller of this.receives) controller.abort();
      },
      this.pollWaitSeconds * 1000 + RECEIVE_GRACE_MS,
    );
    try {
      while (this.running.size > 0) await Promise.allSettled([...this.running]);
    } finally {
      clearTimeout(abandon);
    }
  }

  /** Starts a worker to gather the next batch, unless one is gathering or every slot is taken. */
  private ensureCollector(): void {
    if (this.stopping || this.collectors > 0 || this.workers >= this.maxConcurrency) return;
    this.workers++;
    const run: Promise<void> = this.work()
      .catch((error: unknown) => this.emit('error', 'poller crashed', { error: errorMessage(error) }))
      .finally(() => {
        this.workers--;
        this.running.delete(run);
        this.ensureCollector();
      });
    this.running.add(run);
  }

  private async work(): Promise<void> {
    for (;;) {
      this.collectors++;
      let batch: SizedRecord[];
      try {
        batch = await this.collect();
      } finally {
        this.collectors--;
      }
      if (batch.length === 0) return;
      this.ensureCollector();
      await this.process(batch.map((sized) => sized.record));
      // Gather again only if nobody else is: at most one poller at a time.
      if (this.collectors > 0 || (this.stopping && this.carry.length === 0)) return;
    }
  }

  /** Gathers one batch; empty only when stopping. */
  private async collect(): Promise<SizedRecord[]> {
    const batch: SizedRecord[] = this.carry.splice(0);
    let bytes = batch.reduce((sum, sized) => sum + sized.bytes + 1, 0);
    let full = false;
    const add = (messages: readonly Message[]) => {
      for (const message of messages) {
        const sized = this.toSizedRecord(message);
        if (!sized) continue;
        if (full || (batch.length > 0 && bytes + sized.bytes + 1 > MAX_PAYLOAD_BYTES - 64)) {
          full = true;
          this.carry.push(sized);
        } else {
          batch.push(sized);
          bytes += sized.bytes + 1;
        }
      }
    };

    while (batch.length === 0) {
      if (this.stopping) return batch;
      add(await this.receive(Math.min(SQS_MAX_BATCH, this.batchSize), this.pollWaitSeconds));
    }

    const deadline = Date.now() + this.windowMs;
    while (!this.stopping && !full && batch.length < this.batchSize) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) break;
      // Long-poll only for whole seconds that fit in the window, so no receive outlives it;
      // in the last second, short-poll.
      const waitSeconds = Math.min(this.pollWaitSeconds, Math.floor(remainingMs / 1000));
      const messages = await this.receive(
        Math.min(SQS_MAX_BATCH, this.batchSize - batch.length),
        waitSeconds,
      );
      add(messages);
      if (messages.length === 0 && waitSeconds === 0)
        await this.sleep(Math.min(WINDOW_TAIL_POLL_MS, deadline - Date.now()));
    }
    return batch;
  }

  private async receive(maxMessages: number, waitSeconds: number): Promise<Message[]> {
    if (this.stopping) return [];
    const controller = new AbortController();
    this.receives.add(controller);
    try {
      const output = await this.options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: maxMessages,
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: controller.signal },
      );
      this.receiveFailuresInARow = 0;
      const messages = output.Messages ?? [];
      this.stats.received += messages.length;
      return messages;
    } catch (error) {
      if (this.stopping) return [];
      this.stats.receiveErrors++;
      this.receiveFailuresInARow++;
      const backoffMs = Math.min(
        RECEIVE_BACKOFF_MAX_MS,
        RECEIVE_BACKOFF_MIN_MS * 2 ** Math.min(this.receiveFailuresInARow - 1, 10),
      );
      this.emit('warn', 'receive failed', { error: errorMessage(error), retryInMs: backoffMs });
      await this.sleep(backoffMs);
      return [];
    } finally {
      this.receives.delete(controller);
    }
  }

  private async process(records: SQSRecord[]): Promise<void> {
    const event: SQSEvent = { Records: records };
    this.stats.invocations++;
    this.stats.inFlight++;
    this.stats.peakConcurrency = Math.max(this.stats.peakConcurrency, this.stats.inFlight);
    /** Message ids to leave for redelivery. */
    let failed: ReadonlySet<string> | 'all';
    try {
      const response = await this.options.invoke(event);
      if (!this.options.consumer.reportBatchItemFailures) {
        failed = new Set();
      } else {
        const outcome = readBatchResponse(response, new Set(records.map((r) => r.messageId)));
        if ('invalid' in outcome) {
          failed = 'all';
          this.stats.failedInvocations++;
          this.emit('error', 'invalid batch response; the whole batch failed', {
            reason: outcome.invalid,
            batchSize: records.length,
          });
        } else {
          failed = outcome.failed;
          if (failed.size > 0)
            this.emit('warn', 'batch item failures', { failedItems: failed.size, batchSize: records.length });
        }
      }
    } catch (error) {
      failed = 'all';
      this.stats.failedInvocations++;
      this.emit('error', 'invocation failed', {
        error: errorMessage(error),
        errorType: error instanceof Error ? error.name : typeof error,
        failedItems: records.length,
        batchSize: records.length,
      });
    } finally {
      this.stats.inFlight--;
    }
    const failedIds = failed;
    const toDelete = failedIds === 'all' ? [] : records.filter((r) => !failedIds.has(r.messageId));
    this.stats.failedRecords += records.length - toDelete.length;
    await this.deleteRecords(toDelete);
  }

  private async deleteRecords(records: readonly SQSRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += SQS_MAX_BATCH) {
      const chunk = records.slice(start, start + SQS_MAX_BATCH);
      try {
        const output = await this.options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: chunk.map((record, index) => ({
              Id: String(index),
              ReceiptHandle: record.receiptHandle,
            })),
          }),
        );
        const failed = output.Failed ?? [];
        this.stats.deleted += chunk.length - failed.length;
        if (failed.length > 0) {
          this.stats.deleteErrors += failed.length;
          this.emit('error', 'delete failed; records will be redelivered', {
            failedItems: failed.length,
            codes: [...new Set(failed.map((entry) => entry.Code))],
          });
        }
      } catch (error) {
        this.stats.deleteErrors += chunk.length;
        this.emit('error', 'delete failed; records will be redelivered', {
          failedItems: chunk.length,
          error: errorMessage(error),
        });
      }
    }
  }

  private toSizedRecord(message: Message): SizedRecord | undefined {
    if (!message.MessageId || !message.ReceiptHandle) return undefined;
    const record = toSqsRecord(message, this.options.queueArn, this.awsRegion);
    return { record, bytes: Buffer.byteLength(JSON.stringify(record)) };
  }

  /** A timer that stop() cuts short, so nothing is left pending once it resolves. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private emit(level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void {
    this.log({
      level,
      message,
      component: 'sqs-event-source',
      functionName: this.options.functionName,
      eventSourceArn: this.options.queueArn,
      ...fields,
    });
  }
}

interface SizedRecord {
  readonly record: SQSRecord;
  /** Its JSON size, counted against the invocation payload limit. */
  readonly bytes: number;
}

/** A received message in the shape Lambda puts in `event.Records`. */
export function toSqsRecord(message: Message, queueArn: string, awsRegion: string): SQSRecord {
  const system = message.Attributes ?? {};
  const attributes: SQSRecordAttributes = {
    ...system,
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? '',
    SenderId: system.SenderId ?? '',
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? '',
  };
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
      ...(value.BinaryValue !== undefined && {
        binaryValue: Buffer.from(value.BinaryValue).toString('base64'),
      }),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((bytes) => Buffer.from(bytes).toString('base64')),
      dataType: value.DataType ?? 'String',
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes !== undefined && {
      md5OfMessageAttributes: message.MD5OfMessageAttributes,
    }),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion,
  };
}

/**
 * Reads a ReportBatchItemFailures response the way Lambda does: nothing, an empty object or
 * an empty/null list means every record succeeded; anything malformed, or an identifier that
 * is empty or not in the batch, fails the whole batch.
 */
export function readBatchResponse(
  response: unknown,
  batchIds: ReadonlySet<string>,
): { failed: ReadonlySet<string> } | { invalid: string } {
  const failed = new Set<string>();
  if (response === undefined || response === null) return { failed };
  if (typeof response !== 'object' || Array.isArray(response))
    return {
      invalid: `response is ${Array.isArray(response) ? 'an array' : `a ${typeof response}`}, not an object`,
    };
  const list = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return { failed };
  if (!Array.isArray(list)) return { invalid: 'batchItemFailures is not a list' };
  for (const item of list) {
    const id =
      typeof item === 'object' && item !== null
        ? (item as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof id !== 'string' || id === '')
      return { invalid: 'a batchItemFailures entry has no itemIdentifier' };
    if (!batchIds.has(id)) return { invalid: `itemIdentifier ${id} is not a message of this batch` };
    failed.add(id);
  }
  return { failed };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
