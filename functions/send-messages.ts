import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

/**
 * Send queue consumer. The broadcast domain (claim, send, record SID) arrives with the
 * core pipeline; until then it sends nothing and reports every record as failed, so a
 * message that reaches it stays visible (and ends in the dead-letter queue) instead of
 * being silently dropped.
 */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  console.error(
    JSON.stringify({
      level: 'ERROR',
      message: 'send consumer not implemented yet',
      records: event.Records.length,
    }),
  );
  return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
};
