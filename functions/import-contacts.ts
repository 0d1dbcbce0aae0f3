import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requiredEnv } from './commons/config.ts';
import { logger } from './commons/powertools.ts';
import { contacts, groups, importQueue, importStore, uploadFiles } from './commons/wiring.ts';
import { IMPORT_QUEUE_MAX_RECEIVES, parseImportKey, parseImportMessage } from './core/imports.ts';
import { runImport } from './use-cases/import-contacts.ts';

/**
 * The imports queue's consumer: each message is the bucket's S3 event for a new import file
 * (`imports/<tenant>/<importId>.csv`, its ObjectCreated notification) or a continuation an earlier
 * invocation left before its deadline; both run the import from where it is (use-cases/import-contacts.ts).
 * One message per invocation (batch size 1): an import uses the invocation's whole time.
 *
 * A message is done when the import is claimed and run, handed over, or has nothing to do (a
 * duplicate event, a finished import, S3's s3:TestEvent); it is failed (back on the queue after its
 * visibility timeout) when the run throws, and on its last receive the import is marked failed
 * instead, so that no import stays `running` with its message in the dead-letter queue.
 */
async function handle(record: SQSRecord, context: Context | undefined): Promise<void> {
  const message = parseImportMessage(record.body);
  if ('ignore' in message) {
    logger.info('imports queue message ignored', { messageId: record.messageId, why: message.ignore });
    return;
  }
  const targets =
    'continuation' in message
      ? [{ tenantId: message.continuation.tenantId, importId: message.continuation.importId }]
      : message.objects.flatMap((o) => {
          const target = o.bucket === requiredEnv('UPLOADS_BUCKET') ? parseImportKey(o.key) : undefined;
          if (!target) logger.warn('S3 event for an object that is not an import file', { bucket: o.bucket });
          return target ? [target] : [];
        });
  const receives = Number(record.attributes?.ApproximateReceiveCount ?? 1);
  for (const { tenantId, importId } of targets) {
    logger.appendKeys({ tenantId, importId });
    const outcome = await runImport(
      {
        store: importStore(),
        files: uploadFiles(),
        contacts: contacts(),
        groups: groups(),
        queue: importQueue(),
        now: () => new Date(),
        remainingMs: () => context?.getRemainingTimeInMillis() ?? 60_000,
        log: (level, text, fields) => logger[level](text, fields ?? {}),
      },
      tenantId,
      importId,
      { lastAttempt: receives >= IMPORT_QUEUE_MAX_RECEIVES },
    );
    logger.info('import invocation done', { outcome });
  }
}

export const handler = middy(
  (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(
      event,
      (record: SQSRecord) => handle(record, context),
      new BatchProcessor(EventType.SQS),
      context ? { context } : undefined,
    ),
).use(injectLambdaContext(logger, { resetKeys: true }));
