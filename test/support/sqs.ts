import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { ensureQueues, type LocalQueues, localSqsClient, startSqsLocal } from '../../lib/local/sqs-local.ts';

let messageCounter = 0;

/** An SQS event as Lambda's event source mapping hands it over: bodies, or messages received from a queue. */
export function sqsEvent(items: readonly (string | Message)[]): SQSEvent {
  return {
    Records: items.map((item): SQSRecord => {
      const message = typeof item === 'string' ? undefined : item;
      messageCounter += 1;
      return {
        messageId: message?.MessageId ?? `msg-${messageCounter}`,
        receiptHandle: message?.ReceiptHandle ?? `rh-${messageCounter}`,
        body: message ? (message.Body ?? '') : (item as string),
        attributes: {
          ApproximateReceiveCount: message?.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: String(Date.now()),
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${LOCAL_REGION}:000000000000:broadcast-send`,
        awsRegion: LOCAL_REGION,
      };
    }),
  };
}

export interface TestQueues {
  readonly client: SQSClient;
  /** A queue with its dead-letter queue (created on the first call for a name). */
  queue(
    name: string,
    options?: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number },
  ): Promise<LocalQueues['queues'][string]>;
  /** Every message visible on the queue now, received and deleted (oldest rounds first). */
  drain(url: string): Promise<Message[]>;
  /**
   * One round of an event source mapping: receives up to 10 messages, hands them to `consumer`,
   * deletes those it did not report as failed and makes the failed ones visible again at once.
   */
  pump(
    url: string,
    consumer: (event: SQSEvent) => Promise<SQSBatchResponse>,
  ): Promise<{ received: Message[]; response: SQSBatchResponse }>;
  stop(): Promise<void>;
}

/** fauxqs on loopback in a temp directory, as the twin runs it. */
export async function startTestQueues(): Promise<TestQueues> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sqs-test-'));
  const server = await startSqsLocal({ dataDir, port: 0 });
  const client = localSqsClient(server.address);
  const receive = async (url: string) =>
    (
      await client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      )
    ).Messages ?? [];
  const remove = async (url: string, messages: readonly Message[]) => {
    if (messages.length === 0) return;
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
  };
  return {
    client,
    async queue(name, options = {}) {
      const queues = await ensureQueues(
        server,
        {
          [name]: {
            envVar: 'UNUSED',
            visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 60,
            retentionDays: 1,
            deadLetter: { maxReceiveCount: options.maxReceiveCount ?? 5, envVar: 'UNUSED', retentionDays: 1 },
          },
        },
        (id) => id,
      );
      return queues[name] as LocalQueues['queues'][string];
    },
    async drain(url) {
      const out: Message[] = [];
      for (;;) {
        const messages = await receive(url);
        if (messages.length === 0) return out;
        out.push(...messages);
        await remove(url, messages);
      }
    },
    async pump(url, consumer) {
      const received = await receive(url);
      if (received.length === 0) return { received, response: { batchItemFailures: [] } };
      const response = await consumer(sqsEvent(received));
      const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      await remove(
        url,
        received.filter((m) => !failed.has(m.MessageId ?? '')),
      );
      for (const m of received.filter((m) => failed.has(m.MessageId ?? '')))
        await client.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: url,
            ReceiptHandle: m.ReceiptHandle ?? '',
            VisibilityTimeout: 0,
          }),
        );
      return { received, response };
    },
    async stop() {
      client.destroy();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
