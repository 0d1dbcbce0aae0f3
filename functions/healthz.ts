import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { queueProbe, tableProbe } from './adapters/health-probes.ts';
import { requiredEnv } from './commons/config.ts';
import { errorResponse, json } from './commons/http.ts';
import { logger } from './commons/powertools.ts';
import { announced } from './commons/sdk-clients.ts';
import { ApiError } from './core/errors.ts';
import { checkDependencies } from './core/health.ts';

/**
 * How long each dependency has to answer. Well inside the function's 5 s timeout (lib/topology.ts),
 * and long enough for a cold container's first TLS handshake to AWS.
 */
const PROBE_TIMEOUT_MS = 2000;

/**
 * GET /healthz: `200 { ok: true, checks: { dynamodb: 'ok', sqs: 'ok' } }` when the main table and the
 * send queue answer a read within 2 s each, else `503 DEPENDENCY_UNAVAILABLE` naming each one that
 * did not (the errors themselves are logged, not answered: the route is public).
 */
export const handler = async (): Promise<APIGatewayProxyResultV2> => {
  try {
    const report = await checkDependencies(
      {
        dynamodb: tableProbe(clients().doc, requiredEnv('TABLE_NAME')),
        sqs: queueProbe(clients().sqs, requiredEnv('SEND_QUEUE_URL')),
      },
      PROBE_TIMEOUT_MS,
      (dependency, error) => logger.warn('health check failed', { dependency, error: error as Error }),
    );
    return json(200, report);
  } catch (error) {
    if (!(error instanceof ApiError)) logger.error('health check could not run', { error: error as Error });
    return errorResponse(error);
  }
};

let made: { where: string; doc: DynamoDBDocumentClient; sqs: SQSClient } | undefined;

/**
 * The probes' SDK clients, for the endpoints of the environment they are asked in. On Lambda that
 * never changes (one client pair per container, as commons/wiring.ts makes them). A process that
 * starts a second local twin after a first (tests) changes AWS_ENDPOINT_URL_*, and health must be
 * checked against the emulators of the twin that answers, not the first one's.
 */
function clients(): { doc: DynamoDBDocumentClient; sqs: SQSClient } {
  const where = `${process.env.AWS_ENDPOINT_URL_DYNAMODB ?? ''} ${process.env.AWS_ENDPOINT_URL_SQS ?? ''}`;
  if (made?.where !== where) {
    made?.doc.destroy();
    made?.sqs.destroy();
    made = {
      where,
      doc: DynamoDBDocumentClient.from(announced(new DynamoDBClient({}), 'dynamodb')),
      sqs: announced(new SQSClient({}), 'sqs'),
    };
  }
  return made;
}
