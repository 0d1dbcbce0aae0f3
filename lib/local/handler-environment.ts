import path from 'node:path';
import type { Topology } from '../topology.ts';
import { resourceEnvironment } from '../topology-wiring.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local.ts';
import type { LocalConfig } from './config.ts';
import type { LocalQueues } from './sqs-local.ts';
import type { TwilioSimulator } from './twilio-simulator.ts';

/** The environment every handler sees locally: what Lambda and the CDK stack would give it. */
export function handlerEnvironment(
  topo: Topology,
  config: LocalConfig,
  where: {
    /** Where the handlers' clients send their calls: the emulators, or fault proxies in front of them. */
    dynamodbEndpoint: string;
    sqsEndpoint: string;
    queues: LocalQueues['queues'];
    tableNames: Record<string, string>;
    buckets: Record<string, string>;
    /** S3 is not behind a fault proxy: TWIN_FAULTS names DynamoDB, SQS and Twilio faults only. */
    s3Endpoint: string;
    secretsManagerEndpoint?: string;
    publicBaseUrl: string;
    simulator: TwilioSimulator | undefined;
    functionUrls: Record<string, string>;
    scheduleGroups: Record<
      string,
      { name: string; targetArn: string; roleArn: string; deadLetterArn: string }
    >;
    /** Event bus names by topology id. */
    eventBuses: Record<string, string>;
  },
): Record<string, string> {
  const locate = {
    functionUrl: (id: string) => where.functionUrls[id] ?? missing('function URL', id),
    tableName: (id: string) => where.tableNames[id] ?? missing('table', id),
    queueUrl: (id: string) => where.queues[id]?.main.url ?? missing('queue', id),
    deadLetterQueueUrl: (id: string) => where.queues[id]?.deadLetter.url ?? missing('queue', id),
    secretArn: (id: string) => missing('secret', id),
    secretPrefix: (id: string) => `local/${id}/`,
    bucketName: (id: string) => where.buckets[id] ?? missing('bucket', id),
    scheduleGroup: (id: string) => where.scheduleGroups[id] ?? missing('schedule group', id),
    eventBusName: (id: string) => where.eventBuses[id] ?? missing('event bus', id),
  };
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: where.dynamodbEndpoint,
    AWS_ENDPOINT_URL_SQS: where.sqsEndpoint,
    AWS_ENDPOINT_URL_S3: where.s3Endpoint,
    ...(where.secretsManagerEndpoint
      ? { AWS_ENDPOINT_URL_SECRETS_MANAGER: where.secretsManagerEndpoint }
      : {}),
    PUBLIC_BASE_URL: where.publicBaseUrl,
    POWERTOOLS_SERVICE_NAME: 'whatsapp-broadcast',
    // The handlers' EMF metrics (functions/commons/emf-metrics.ts): a file, not npm start's output.
    METRICS_FILE: path.join(config.dataDir, 'metrics.jsonl'),
    ...config.handlerSettings,
  };
  for (const fn of Object.values(topo.functions)) {
    // Secrets are read from the environment locally (TWILIO_AUTH_TOKEN below), from Secrets Manager on AWS.
    const fnEnv = { ...fn.environment, ...resourceEnvironment(topo, fn, locate, { includeSecrets: false }) };
    for (const [key, value] of Object.entries(fnEnv)) {
      if (key in env && env[key] !== value)
        throw new Error(`Functions disagree on ${key}; the local twin shares one environment between them`);
      env[key] = value;
    }
  }
  const twilio = config.twilio;
  env.TWILIO_ACCOUNT_SID = twilio.accountSid;
  env.TWILIO_AUTH_TOKEN = twilio.authToken;
  if (twilio.kind === 'simulator') {
    env.TWILIO_FROM = twilio.from;
    if (where.simulator) env.TWILIO_API_BASE_URL = where.simulator.url;
  } else {
    if (twilio.from) env.TWILIO_FROM = twilio.from;
    if (twilio.messagingServiceSid) env.TWILIO_MESSAGING_SERVICE_SID = twilio.messagingServiceSid;
  }
  return env;
}

/** A topology reference to something the twin does not have: a wiring bug, said by name. */
export function missing(kind: string, id: string): never {
  throw new Error(`Unknown ${kind} ${id}`);
}
