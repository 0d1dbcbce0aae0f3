import { setTimeout as sleep } from 'node:timers/promises';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import type { TaskQueue } from '../core/ports.ts';

/** SQS's limit: 10 entries per SendMessageBatch. */
const BATCH_LIMIT = 10;

export interface BatchSendOptions {
  /** Rounds of re-sending the entries SQS refused (throttling, internal errors); default 3. */
  readonly maxRetries?: number;
  /** Chunks of 10 in flight at once; default 8. */
  readonly concurrency?: number;
  /** Base backoff between rounds; default 100 ms (doubled each round, with jitter). */
  readonly backoffMs?: number;
  /**
   * The message group of a body. On a standard queue this makes SQS a fair queue (2025): a group
   * with a large backlog does not hold back the others' messages (a big broadcast cannot starve a
   * small one behind it). Order and exactly-once are not implied; consumers stay idempotent.
   */
  readonly groupOf?: (body: never) => string;
  /** Every message visible only after this many seconds (0–900, SQS's DelaySeconds). */
  readonly delaySeconds?: number;
}

export interface QueueFailure {
  readonly id: string;
  readonly code?: string;
  readonly message?: string;
}

export class QueueSendError extends Error {
  readonly failed: readonly QueueFailure[];
  constructor(queueUrl: string, failed: readonly QueueFailure[]) {
    super(
      `SQS refused ${failed.length} message(s) on ${queueUrl}: ${failed
        .slice(0, 3)
        .map((f) => f.code ?? f.message ?? 'unknown')
        .join(', ')}`,
    );
    this.name = 'QueueSendError';
    this.failed = failed;
  }
}

/**
 * Sends JSON bodies in SendMessageBatch calls of 10, several at once; entries SQS refuses are
 * sent again (only those) a few times with backoff. Throws QueueSendError when some never got in:
 * the caller's own retry (or the sweeper) covers them, and every consumer is idempotent anyway.
 */
export async function sendJsonBatch(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly unknown[],
  options: BatchSendOptions = {},
): Promise<void> {
  if (bodies.length === 0) return;
  const maxRetries = options.maxRetries ?? 3;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const backoffMs = options.backoffMs ?? 100;

  let pending: SendMessageBatchRequestEntry[] = bodies.map((body, i) => ({
    Id: String(i),
    MessageBody: JSON.stringify(body),
    ...(options.groupOf ? { MessageGroupId: options.groupOf(body as never) } : {}),
    ...(options.delaySeconds
      ? { DelaySeconds: Math.min(900, Math.max(0, Math.ceil(options.delaySeconds))) }
      : {}),
  }));
  // Entries SQS refused as the sender's fault (too big, malformed) fail the same way again: not retried.
  const rejected: QueueFailure[] = [];
  let lastFailures: QueueFailure[] = [];
  for (let round = 0; pending.length > 0; round++) {
    if (round > maxRetries) break;
    if (round > 0) await sleep(backoffMs * 2 ** (round - 1) * (0.5 + Math.random()));
    const byId = new Map(pending.map((e) => [e.Id, e]));
    const chunks: SendMessageBatchRequestEntry[][] = [];
    for (let i = 0; i < pending.length; i += BATCH_LIMIT) chunks.push(pending.slice(i, i + BATCH_LIMIT));
    const retry: SendMessageBatchRequestEntry[] = [];
    lastFailures = [];
    await pLimit(concurrency).map(chunks, async (entries) => {
      try {
        const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        for (const f of out.Failed ?? []) {
          const failure: QueueFailure = {
            id: f.Id ?? '?',
            ...(f.Code ? { code: f.Code } : {}),
            ...(f.Message ? { message: f.Message } : {}),
          };
          const entry = f.Id ? byId.get(f.Id) : undefined;
          if (f.SenderFault || !entry) rejected.push(failure);
          else {
            lastFailures.push(failure);
            retry.push(entry);
          }
        }
      } catch (error) {
        // The whole call failed (throttled, network): the whole chunk goes again.
        const message = error instanceof Error ? error.message : String(error);
        for (const e of entries) {
          lastFailures.push({ id: e.Id ?? '?', message });
          retry.push(e);
        }
      }
    });
    pending = retry;
  }
  const failed = [...rejected, ...(pending.length > 0 ? lastFailures : [])];
  if (failed.length > 0) throw new QueueSendError(queueUrl, failed);
}

/** A TaskQueue over SQS: one message per task, its body the task as JSON. */
export class SqsTaskQueue<T> implements TaskQueue<T> {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #options: BatchSendOptions;

  constructor(sqs: SQSClient, queueUrl: string, options: BatchSendOptions = {}) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
    this.#options = options;
  }

  enqueue(tasks: readonly T[], options: { delaySeconds?: number } = {}): Promise<void> {
    return sendJsonBatch(this.#sqs, this.#queueUrl, tasks, { ...this.#options, ...options });
  }
}
