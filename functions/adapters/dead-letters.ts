import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * Dead-letter queues: how many messages they hold, and moving them back to the queue they
 * came from. Built on Receive/Send/Delete only, so it works the same on SQS and on the local
 * emulator (SQS's own StartMessageMoveTask needs queue ARNs and a real SQS).
 */

/** SQS's limit: 10 messages per ReceiveMessage and per SendMessageBatch / DeleteMessageBatch. */
const BATCH_LIMIT = 10;

export interface QueueDepth {
  /** ApproximateNumberOfMessages: messages available for retrieval. */
  readonly visible: number;
  /** ApproximateNumberOfMessagesNotVisible: received, not yet deleted (in flight). */
  readonly inFlight: number;
  /** ApproximateNumberOfMessagesDelayed. */
  readonly delayed: number;
}

/** A queue's approximate message counts (GetQueueAttributes: the only permission it needs). */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const n = (value: string | undefined) => {
    const parsed = Number(value ?? 0);
    return Number.isFinite(parsed) ? parsed : 0;
  };
  return {
    visible: n(Attributes.ApproximateNumberOfMessages),
    inFlight: n(Attributes.ApproximateNumberOfMessagesNotVisible),
    delayed: n(Attributes.ApproximateNumberOfMessagesDelayed),
  };
}

/**
 * The messages waiting in these dead-letter queues (ApproximateNumberOfMessages summed; SQS's
 * counts are approximate and lag a little behind sends and deletes).
 */
export async function deadLetterDepth(sqs: SQSClient, urls: readonly string[]): Promise<number> {
  const depths = await Promise.all(urls.map((url) => queueDepth(sqs, url)));
  return depths.reduce((sum, d) => sum + d.visible, 0);
}

export interface RedriveOptions {
  readonly deadLetterUrl: string;
  /** The queue the messages go back to (the DLQ's source queue). */
  readonly targetUrl: string;
  /** Stop after this many messages (moved or refused); default: until the DLQ looks empty. */
  readonly max?: number;
  /**
   * How long a received message stays hidden in the DLQ while it is being moved; one the target
   * refused shows again after this. Default 60 s.
   */
  readonly visibilitySeconds?: number;
  /** Long-poll wait of each receive (1..20 s; 0 is a short poll). Default 1 s. */
  readonly waitSeconds?: number;
}

export interface RedriveResult {
  /** Sent to the target queue and deleted from the dead-letter queue. */
  readonly moved: number;
  /** Refused by the target queue: left in the dead-letter queue (visible again after the visibility timeout). */
  readonly failed: number;
  /** Sent to the target but not deleted from the DLQ: they will be in both (consumers are idempotent). */
  readonly notDeleted: number;
}

/**
 * Moves messages from a dead-letter queue back to a queue: receives up to 10 at a time, sends
 * each body with its message attributes to the target in one SendMessageBatch, and deletes from
 * the DLQ only the ones the target took. A message is copied before it is deleted, so a crash
 * can duplicate a message but never lose one. Each message is tried once per run.
 */
export async function redriveDeadLetters(sqs: SQSClient, options: RedriveOptions): Promise<RedriveResult> {
  const max = options.max ?? Number.POSITIVE_INFINITY;
  if (!(max >= 0)) throw new Error(`max must be a number >= 0, got ${options.max}`);
  const visibilitySeconds = options.visibilitySeconds ?? 60;
  const waitSeconds = options.waitSeconds ?? 1;
  const tried = new Set<string>();
  let moved = 0;
  let failed = 0;
  let notDeleted = 0;

  while (moved + failed < max) {
    const wanted = Math.min(BATCH_LIMIT, max - moved - failed);
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.deadLetterUrl,
        MaxNumberOfMessages: wanted,
        MessageAttributeNames: ['All'],
        VisibilityTimeout: visibilitySeconds,
        WaitTimeSeconds: waitSeconds,
      }),
    );
    // A message seen before in this run came back (the target refused it, or its delete failed): leave it.
    const fresh = Messages.filter((m) => m.MessageId && m.ReceiptHandle && !tried.has(m.MessageId));
    if (fresh.length === 0) break;
    for (const m of fresh) tried.add(m.MessageId as string);

    const entries = fresh.map((m, i) => toSendEntry(m, i));
    const sent = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl: options.targetUrl, Entries: entries }),
    );
    const sentIds = new Set((sent.Successful ?? []).map((s) => s.Id));
    failed += fresh.length - sentIds.size;

    const toDelete = fresh
      .map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string }))
      .filter((e) => sentIds.has(e.Id));
    if (toDelete.length === 0) continue;
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: options.deadLetterUrl, Entries: toDelete }),
    );
    const deletedCount = deleted.Successful?.length ?? 0;
    moved += deletedCount;
    notDeleted += toDelete.length - deletedCount;
  }
  return { moved, failed, notDeleted };
}

function toSendEntry(message: Message, index: number): SendMessageBatchRequestEntry {
  const attributes = copyAttributes(message.MessageAttributes);
  return {
    Id: String(index),
    MessageBody: message.Body ?? '',
    ...(attributes ? { MessageAttributes: attributes } : {}),
  };
}

/** Message attributes as SendMessage takes them (the list forms are reserved by SQS: never set). */
function copyAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> | undefined {
  if (!attributes || Object.keys(attributes).length === 0) return undefined;
  const copy: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    copy[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
    };
  }
  return copy;
}
