import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Probe } from '../core/health.ts';

/** A key no item uses: the read proves the table answers, and costs half a read unit (eventually consistent). */
const PROBE_KEY = { pk: 'HEALTHZ', sk: 'HEALTHZ' } as const;

/** Reads one item of the table (GetItem: the table's `read` grant covers it). */
export function tableProbe(doc: DynamoDBDocumentClient, tableName: string): Probe {
  return async (abortSignal) => {
    await doc.send(new GetCommand({ TableName: tableName, Key: PROBE_KEY }), { abortSignal });
  };
}

/** Reads one attribute of the queue (GetQueueAttributes: the queue's `depth` grant covers it). */
export function queueProbe(sqs: SQSClient, queueUrl: string): Probe {
  return async (abortSignal) => {
    await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      { abortSignal },
    );
  };
}
