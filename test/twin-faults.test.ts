import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../functions/adapters/twilio-client.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { type ApiTwin, startApiTwin } from './support/api-twin.ts';

// A twin of its own (own process): the handlers' SDK clients are created once per process.
let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: 'acme:key-acme',
    TWIN_FAULTS: 'dynamodb.GetItem.InternalServerError=1,sqs.SendMessage.ServiceUnavailable=1,twilio.503=1',
    TWIN_FAULTS_SEED: '5',
    POWERTOOLS_LOG_LEVEL: 'SILENT', // the 500s are expected here
  });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

describe('the local twin with TWIN_FAULTS', () => {
  it("puts fault proxies in front of the handlers' DynamoDB and SQS, not in front of the twin's own calls", async () => {
    const { twin } = api;
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).not.toBe(twin.dynamodbEndpoint);
    expect(process.env.AWS_ENDPOINT_URL_SQS).not.toBe(twin.sqsEndpoint);

    // The admin route reads the caller's API key with GetItem: DynamoDB answers 500 to each of the
    // SDK's attempts (its default for DynamoDB), and the route answers 500 in API.md's shape.
    const attempts = await new DynamoDBClient({ region: LOCAL_REGION }).config.maxAttempts();
    const answer = await api.call('GET', '/v1/broadcasts', { key: 'key-acme' });
    expect(answer.status).toBe(500);
    expect(answer.body.error.code).toBe('INTERNAL');
    expect(twin.faults?.injected()).toEqual({
      'dynamodb.GetItem.InternalServerError': attempts,
      'sqs.SendMessage.ServiceUnavailable': 0,
      'twilio.503': 0,
    });

    // The emulator itself, as the twin and operators reach it, is untouched.
    const ddb = new DynamoDBClient({
      endpoint: twin.dynamodbEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const Key = { pk: { S: 'faults-check' }, sk: { S: 'item' } };
      await ddb.send(new PutItemCommand({ TableName: twin.tableNames.main, Item: Key }));
      expect((await ddb.send(new GetItemCommand({ TableName: twin.tableNames.main, Key }))).Item).toEqual(
        Key,
      );
    } finally {
      ddb.destroy();
    }
    expect(twin.faults?.injected()['dynamodb.GetItem.InternalServerError']).toBe(attempts);
  });

  it("reaches SQS through the proxy with the handlers' own queue URLs (the SDK sends to a QueueUrl's host)", async () => {
    // A client built as the handlers build theirs (functions/commons/wiring.ts): everything from the environment.
    const sqs = new SQSClient({ maxAttempts: 1 });
    const queueUrl = process.env.SEND_QUEUE_URL ?? '';
    expect(new URL(queueUrl).origin).toBe(process.env.AWS_ENDPOINT_URL_SQS);
    try {
      const error = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{}' })).then(
        () => undefined,
        (e: unknown) => e as Error & { $metadata: { httpStatusCode?: number } },
      );
      expect({ name: error?.name, status: error?.$metadata.httpStatusCode }).toEqual({
        name: 'ServiceUnavailable',
        status: 503,
      });
    } finally {
      sqs.destroy();
    }
    expect(api.twin.faults?.injected()['sqs.SendMessage.ServiceUnavailable']).toBe(1);
    await api.untilQueueDrained('send'); // nothing was sent
  });

  it('plays the twilio.* faults in its simulator, with the same counters', async () => {
    const sim = api.twin.simulator;
    if (!sim) throw new Error('no simulator');
    const client = createTwilioClient({
      accountSid: sim.accountSid,
      authToken: sim.authToken,
      apiBaseUrl: sim.url,
    });
    const error = await client.messages
      .create({
        to: 'whatsapp:+972501234567',
        from: 'whatsapp:+14155238886',
        contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid,
      })
      .then(
        () => undefined,
        (e: unknown) => e as { status?: number; code?: number },
      );
    expect({ status: error?.status, code: error?.code }).toEqual({ status: 503, code: 20503 });
    expect(sim.messages()).toEqual([]);
    expect(api.twin.faults?.injected()['twilio.503']).toBe(1);
    expect(api.twin.faults?.plan.seed).toBe(5);
  });
});
