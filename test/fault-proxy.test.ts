import {
  DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  RequestThrottled,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { FaultInjector } from '../lib/local/faults/injector.ts';
import { type FaultProxy, startFaultProxy } from '../lib/local/faults/proxy.ts';
import { parseFaultPlan } from '../lib/local/faults/spec.ts';
import { startTestDynamoDb } from './support/dynamodb.ts';

let ddb: Awaited<ReturnType<typeof startTestDynamoDb>>;
let fauxqs: FauxqsServer;
const proxies: FaultProxy[] = [];
const clients: { destroy(): void }[] = [];

beforeAll(async () => {
  [ddb, fauxqs] = await Promise.all([startTestDynamoDb(), startFauxqs({ port: 0, logger: false })]);
}, 60_000);

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  await Promise.all([ddb?.stop(), fauxqs?.stop()]);
});

/** A proxy for `spec` (TWIN_FAULTS syntax) in front of the service's emulator, and what it logged. */
async function proxyFor(service: 'dynamodb' | 'sqs', spec: string, seed = '7') {
  const logs: Record<string, unknown>[] = [];
  const injector = new FaultInjector(parseFaultPlan(spec, seed), (entry) => logs.push(entry));
  const proxy = await startFaultProxy({
    service,
    target: service === 'dynamodb' ? ddb.endpoint : fauxqs.address,
    injector,
  });
  proxies.push(proxy);
  return { proxy, injector, logs };
}

async function dynamoThrough(spec: string, maxAttempts = 3) {
  const { proxy, injector, logs } = await proxyFor('dynamodb', spec);
  const client = new DynamoDBClient({
    endpoint: proxy.url,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts,
  });
  clients.push(client);
  return { doc: DynamoDBDocumentClient.from(client), injector, logs };
}

async function sqsThrough(spec: string, maxAttempts = 3) {
  const { proxy, injector, logs } = await proxyFor('sqs', spec);
  const client = new SQSClient({
    endpoint: proxy.url,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts,
  });
  clients.push(client);
  return { sqs: client, injector, logs };
}

/** An AWS SDK v3 service error, as far as these tests read it. */
type AwsError = Error & { $fault?: string; $metadata: { httpStatusCode?: number; attempts?: number } };

/** What the call threw (it must throw). */
async function thrown(promise: Promise<unknown>): Promise<AwsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected the call to fail');
  return error as AwsError;
}

let itemSeq = 0;
const freshKey = () => ({ pk: `FAULT#${++itemSeq}`, sk: 'ITEM' });
const directGet = async (key: Record<string, string>) =>
  (await ddb.doc.send(new GetCommand({ TableName: ddb.tableName, Key: key }))).Item;

/** Three puts in one transaction, as the store's counted moves are. */
const threeItemTransaction = (keys: Record<string, string>[]) =>
  new TransactWriteCommand({
    TransactItems: keys.map((key) => ({ Put: { TableName: ddb.tableName, Item: { ...key, n: 1 } } })),
  });

describe('fault proxy in front of DynamoDB Local, through the real SDK', () => {
  it('passes everything through unchanged at rate 0', async () => {
    const { doc, injector } = await dynamoThrough(
      'dynamodb.TransactionConflict=0,dynamodb.ThrottlingException=0,dynamodb.InternalServerError=0',
    );
    const key = freshKey();
    await doc.send(new PutCommand({ TableName: ddb.tableName, Item: { ...key, n: 1 } }));
    await doc.send(
      new UpdateCommand({
        TableName: ddb.tableName,
        Key: key,
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
    const keys = [freshKey(), freshKey()];
    await doc.send(threeItemTransaction(keys));
    expect((await doc.send(new GetCommand({ TableName: ddb.tableName, Key: key }))).Item).toEqual({
      ...key,
      n: 2,
    });
    for (const k of keys) expect(await directGet(k)).toEqual({ ...k, n: 1 });
    expect(injector.injected()).toEqual({
      'dynamodb.TransactionConflict': 0,
      'dynamodb.ThrottlingException': 0,
      'dynamodb.InternalServerError': 0,
    });
  });

  it('TransactionConflict cancels a transaction with one reason per item, writes nothing, and is not retried', async () => {
    const { doc, injector, logs } = await dynamoThrough('dynamodb.TransactWriteItems.TransactionConflict=1');
    const keys = [freshKey(), freshKey(), freshKey()];
    const error = await thrown(doc.send(threeItemTransaction(keys)));
    expect(error).toBeInstanceOf(TransactionCanceledException);
    const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
    expect(reasons).toHaveLength(3);
    expect(reasons.filter((r) => r.Code === 'TransactionConflict')).toEqual([
      { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
    ]);
    expect(reasons.filter((r) => r.Code === 'None')).toHaveLength(2);
    expect(error.message).toMatch(
      /^Transaction cancelled, please refer cancellation reasons for specific reasons \[/,
    );
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.$metadata.attempts).toBe(1);
    for (const k of keys) expect(await directGet(k)).toBeUndefined();
    expect(injector.injected()).toEqual({ 'dynamodb.TransactWriteItems.TransactionConflict': 1 });
    expect(logs).toEqual([
      {
        message: 'fault injected',
        fault: 'dynamodb.TransactWriteItems.TransactionConflict',
        service: 'dynamodb',
        operation: 'TransactWriteItems',
        status: 400,
      },
    ]);
  });

  it('ThrottlingError inside a transaction is a cancellation reason too', async () => {
    const { doc } = await dynamoThrough('dynamodb.ThrottlingError=1');
    const error = await thrown(doc.send(threeItemTransaction([freshKey(), freshKey()])));
    expect(error).toBeInstanceOf(TransactionCanceledException);
    const codes = ((error as TransactionCanceledException).CancellationReasons ?? [])
      .map((r) => r.Code)
      .sort();
    expect(codes).toEqual(['None', 'ThrottlingError']);
  });

  it('TransactionConflict on UpdateItem is a TransactionConflictException; other operations are untouched', async () => {
    const { doc, injector } = await dynamoThrough('dynamodb.UpdateItem.TransactionConflict=1');
    const key = freshKey();
    await doc.send(new PutCommand({ TableName: ddb.tableName, Item: { ...key, n: 1 } }));
    const error = await thrown(
      doc.send(
        new UpdateCommand({
          TableName: ddb.tableName,
          Key: key,
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      ),
    );
    expect(error).toBeInstanceOf(TransactionConflictException);
    expect(error.message).toBe('Transaction is ongoing for the item');
    expect(error.$metadata.attempts).toBe(1);
    expect(await directGet(key)).toEqual({ ...key, n: 1 });
    expect(injector.injected()).toEqual({ 'dynamodb.UpdateItem.TransactionConflict': 1 });
  });

  it('ThrottlingException is retried by the SDK, then surfaces with its throttling reason', async () => {
    const { doc, injector } = await dynamoThrough('dynamodb.ThrottlingException=1', 3);
    const error = await thrown(doc.send(new GetCommand({ TableName: ddb.tableName, Key: freshKey() })));
    expect(error).toBeInstanceOf(ThrottlingException);
    expect(error.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 3 });
    expect((error as ThrottlingException).throttlingReasons).toEqual([
      {
        reason: 'TableReadKeyRangeThroughputExceeded',
        resource: `arn:aws:dynamodb:us-east-1:000000000000:table/${ddb.tableName}`,
      },
    ]);
    expect(injector.injected()).toEqual({ 'dynamodb.ThrottlingException': 3 });
  });

  it('ProvisionedThroughputExceededException and InternalServerError are retried and surface as their classes', async () => {
    const throttled = await dynamoThrough('dynamodb.PutItem.ProvisionedThroughputExceededException=1', 2);
    const key = freshKey();
    const error = await thrown(throttled.doc.send(new PutCommand({ TableName: ddb.tableName, Item: key })));
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(error.$metadata.attempts).toBe(2);
    expect((error as ProvisionedThroughputExceededException).ThrottlingReasons?.[0]?.reason).toBe(
      'TableWriteProvisionedThroughputExceeded',
    );
    expect(await directGet(key)).toBeUndefined();

    const broken = await dynamoThrough('dynamodb.InternalServerError=1', 2);
    const internal = await thrown(broken.doc.send(new GetCommand({ TableName: ddb.tableName, Key: key })));
    expect(internal).toBeInstanceOf(InternalServerError);
    expect(internal.$fault).toBe('server');
    expect(internal.$metadata).toMatchObject({ httpStatusCode: 500, attempts: 2 });
  });
});

describe('fault proxy in front of fauxqs, through the real SDK', () => {
  let queueSeq = 0;
  const newQueue = () => {
    const name = `fault-proxy-${++queueSeq}`;
    const queue = fauxqs.createQueue(name, { attributes: { VisibilityTimeout: '30' } });
    const depth = () => {
      const state = fauxqs.inspectQueue(name);
      return {
        ready: state?.messages.ready.map((m) => m.body).sort() ?? [],
        inflight: state?.messages.inflight.length ?? 0,
      };
    };
    return { url: queue.queueUrl, depth };
  };

  it('passes everything through unchanged at rate 0', async () => {
    const { sqs, injector } = await sqsThrough('sqs.ServiceUnavailable=0,sqs.PartialFailure=0');
    const queue = newQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'one' }));
    const batch = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: [
          { Id: 'a', MessageBody: 'two' },
          { Id: 'b', MessageBody: 'three' },
        ],
      }),
    );
    expect(batch.Successful?.map((s) => s.Id).sort()).toEqual(['a', 'b']);
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10 }),
    );
    expect(received.Messages?.map((m) => m.Body).sort()).toEqual(['one', 'three', 'two']);
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: (received.Messages ?? []).map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
    expect(deleted.Failed ?? []).toEqual([]);
    expect(queue.depth()).toEqual({ ready: [], inflight: 0 });
    expect(injector.injected()).toEqual({ 'sqs.ServiceUnavailable': 0, 'sqs.PartialFailure': 0 });
  });

  it('ServiceUnavailable is a 503 the SDK retries, then surfaces; nothing is sent', async () => {
    const { sqs, injector } = await sqsThrough('sqs.ServiceUnavailable=1', 3);
    const queue = newQueue();
    const error = await thrown(
      sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'lost?' })),
    );
    expect(error.name).toBe('ServiceUnavailable');
    expect(error.$fault).toBe('server');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 503, attempts: 3 });
    expect(error.message).toBe('The request has failed due to a temporary failure of the server.');
    expect(queue.depth()).toEqual({ ready: [], inflight: 0 });
    expect(injector.injected()).toEqual({ 'sqs.ServiceUnavailable': 3 });
  });

  it('ThrottlingException, RequestThrottled and InternalFailure surface with their names and statuses', async () => {
    const queue = newQueue();
    const cases = [
      { spec: 'sqs.ThrottlingException=1', name: 'ThrottlingException', status: 400, fault: 'client' },
      { spec: 'sqs.SendMessage.RequestThrottled=1', name: 'RequestThrottled', status: 403, fault: 'client' },
      { spec: 'sqs.InternalFailure=1', name: 'InternalFailure', status: 500, fault: 'server' },
    ];
    for (const c of cases) {
      const { sqs } = await sqsThrough(c.spec, 2);
      const error = await thrown(sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'x' })));
      expect({ name: error.name, status: error.$metadata.httpStatusCode, fault: error.$fault }).toEqual({
        name: c.name,
        status: c.status,
        fault: c.fault,
      });
      expect(error.$metadata.attempts).toBe(2);
      if (c.name === 'RequestThrottled') expect(error).toBeInstanceOf(RequestThrottled);
    }
    expect(queue.depth()).toEqual({ ready: [], inflight: 0 });
  });

  it('PartialFailure refuses some SendMessageBatch entries (not sent) and sends the others', async () => {
    const { sqs, injector } = await sqsThrough('sqs.SendMessageBatch.PartialFailure=0.5');
    const queue = newQueue();
    const bodies = Array.from({ length: 10 }, (_, i) => `m${i}`);
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: bodies.map((body, i) => ({ Id: `e${i}`, MessageBody: body })),
      }),
    );
    const failed = out.Failed ?? [];
    const successful = out.Successful ?? [];
    // The seed makes this draw fixed: some refused, some not.
    expect(failed.length).toBeGreaterThan(0);
    expect(successful.length).toBeGreaterThan(0);
    expect(failed.length + successful.length).toBe(10);
    for (const f of failed)
      expect(f).toEqual({
        Id: expect.stringMatching(/^e\d$/),
        SenderFault: false,
        Code: 'InternalError',
        Message: 'We encountered an internal error. Please try again.',
      });
    const sentBodies = successful.map((s) => `m${(s.Id ?? '').slice(1)}`).sort();
    expect(queue.depth().ready).toEqual(sentBodies);
    expect(injector.injected()).toEqual({ 'sqs.SendMessageBatch.PartialFailure': failed.length });
  });

  it('PartialFailure on DeleteMessageBatch leaves the refused messages in flight', async () => {
    const { sqs, injector } = await sqsThrough('sqs.DeleteMessageBatch.PartialFailure=1');
    const queue = newQueue();
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: [
          { Id: '1', MessageBody: 'keep-1' },
          { Id: '2', MessageBody: 'keep-2' },
        ],
      }),
    );
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10 }),
    );
    const out = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: (received.Messages ?? []).map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
      }),
    );
    expect(out.Successful ?? []).toEqual([]);
    expect(out.Failed?.map((f) => f.Id).sort()).toEqual(['d0', 'd1']);
    expect(queue.depth()).toEqual({ ready: [], inflight: 2 });
    expect(injector.injected()).toEqual({ 'sqs.DeleteMessageBatch.PartialFailure': 2 });
  });
});
