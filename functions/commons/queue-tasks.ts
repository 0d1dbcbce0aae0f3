import type { SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { logger } from './powertools.ts';

/**
 * The task an SQS record carries, checked against its schema; undefined when the body is not JSON or
 * not that task, logged at ERROR by `what` and the message id (never the body: it may hold a phone
 * number). The caller drops such a record: retrying cannot fix a malformed task.
 */
export function taskOf<S extends z.ZodType>(
  record: SQSRecord,
  schema: S,
  what: string,
): z.infer<S> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  logger.error(`malformed ${what} task dropped`, { messageId: record.messageId });
  return undefined;
}
