import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ChangeMessageVisibilityCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Invoke, invokeWithTimeout } from '../lib/local/lambda-runtime.ts';
import {
  type SqsEventSource,
  type SqsEventSourceOptions,
  startSqsEventSource,
} from '../lib/local/sqs-event-source.ts';
import { waitFor } from '../lib/local/wait-for.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODULE_URL = pathToFileURL(
  fileURLToPath(new URL('../lib/local/sqs-event-source.ts', import.meta.url)),
).href;
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

let server: FauxqsServer;
let sqs: SQSClient;
const running: SqsEventSource[] = [];
let queueCounter = 0;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  // With `endpoint` set, the SDK sends every call there; the queue URLs fauxqs hands out
  // (http://sqs.us-east-1.localhost:PORT/...) are only addresses, never resolved as hosts.
  sqs = new SQSClient({ endpoint: server.address, region: 'us-east-1', credentials: CREDENTIALS });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((source) => source.stop()));
});

afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
});

interface TestQueue {
  name: string;
  url: string;
  arn: string;
  dlqName: string;
  dlqUrl: string;
}

function createQueue(
  options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {},
): TestQueue {
  const name = `esm-${++queueCounter}`;
  const dlq = server.createQueue(`${name}-dlq`);
  const main = server.createQueue(name, {
    attributes: {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 1),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlq.queueArn,
        maxReceiveCount: options.maxReceiveCount ?? 3,
      }),
    },
  });
  return { name, url: main.queueUrl, arn: main.queueArn, dlqName: dlq.queueName, dlqUrl: dlq.queueUrl };
}

/** Messages ready, delayed or in flight: 0 once everything sent was deleted (or moved away). */
function depth(queueName: string): number {
  const state = server.inspectQueue(queueName);
  if (!state) throw new Error(`no queue ${queueName}`);
  const { ready, delayed, inflight } = state.messages;
  return ready.length + delayed.length + inflight.length;
}

async function sendAll(queueUrl: string, bodies: readonly string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    const entries = bodies.slice(start, start + 10).map((body, i) => ({ Id: String(i), MessageBody: body }));
    const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    expect(out.Failed ?? []).toEqual([]);
  }
}

interface Delivery {
  body: string;
  receiveCount: string;
}

interface Call {
  at: number;
  records: Delivery[];
}

type TestHandler = (event: SQSEvent) => Promise<unknown>;

/** An `invoke` that records every call, then runs `handler`. */
function recorder(handler: TestHandler = async () => undefined) {
  const calls: Call[] = [];
  const invoke: Invoke = async (event) => {
    const sqsEvent = event as SQSEvent;
    calls.push({
      at: Date.now(),
      records: sqsEvent.Records.map((r) => ({
        body: r.body,
        receiveCount: r.attributes.ApproximateReceiveCount,
      })),
    });
    return handler(sqsEvent);
  };
  const deliveries = (body: string) =>
    calls.flatMap((call) => call.records.filter((r) => r.body === body).map((r) => r.receiveCount));
  return { calls, invoke, deliveries };
}

function start(
  queue: TestQueue,
  invoke: Invoke,
  consumer: Partial<SqsEventSourceOptions['consumer']> = {},
  extra: Partial<SqsEventSourceOptions> = {},
) {
  const logs: Record<string, unknown>[] = [];
  const source = startSqsEventSource({
    sqs,
    queueUrl: queue.url,
    queueArn: queue.arn,
    functionName: 'testConsumer',
    consumer: {
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 2,
      reportBatchItemFailures: true,
      ...consumer,
    },
    invoke,
    log: (entry) => logs.push(entry),
    ...extra,
  });
  running.push(source);
  return { source, logs };
}

function failures(records: readonly SQSRecord[], failing: (r: SQSRecord) => boolean): SQSBatchResponse {
  return { batchItemFailures: records.filter(failing).map((r) => ({ itemIdentifier: r.messageId })) };
}

describe('SQS event source (against fauxqs)', () => {
  it('delivers records shaped like Lambda’s SQS event', async () => {
    const queue = createQueue();
    const events: SQSEvent[] = [];
    start(queue, async (event) => {
      events.push(event as SQSEvent);
    });
    const body = JSON.stringify({ to: '+447700900123' });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: body,
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'template' },
          attempt: { DataType: 'Number', StringValue: '2' },
          blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
        },
      }),
    );
    const [event] = await waitFor(() => events.length > 0 && events, { message: 'no invocation' });
    const record = event?.Records[0];
    expect(event?.Records).toHaveLength(1);
    expect(record).toMatchObject({
      body,
      md5OfBody: createHash('md5').update(body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1', SenderId: expect.any(String) },
      messageAttributes: {
        kind: { stringValue: 'template', dataType: 'String', stringListValues: [], binaryListValues: [] },
        attempt: { stringValue: '2', dataType: 'Number' },
        blob: { binaryValue: Buffer.from([1, 2, 3]).toString('base64'), dataType: 'Binary' },
      },
    });
    expect(record?.messageId).toEqual(expect.any(String));
    expect(record?.receiptHandle).toEqual(expect.any(String));
    expect(record?.md5OfMessageAttributes).toEqual(expect.any(String));
    expect(Number(record?.attributes.SentTimestamp)).toBeGreaterThan(0);
    expect(Number(record?.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThan(0);
    await waitFor(() => depth(queue.name) === 0, { message: 'record not deleted' });
  });

  it('redelivers only the record a batch reports as failed', async () => {
    const queue = createQueue();
    const bodies = ['+447700900001', '+447700900002', '+447700900003'];
    const failing = bodies[1] as string;
    const { calls, invoke, deliveries } = recorder(async (event) =>
      failures(event.Records, (r) => r.body === failing && r.attributes.ApproximateReceiveCount === '1'),
    );
    const { source, logs } = start(queue, invoke, { maxBatchingWindowSeconds: 0.5 });
    await sendAll(queue.url, bodies);

    // Deleted as the source counts it: the queue is empty a moment before its DeleteMessage answers.
    await waitFor(
      () => deliveries(failing).length === 2 && depth(queue.name) === 0 && source.stats.deleted === 3,
      { timeoutMs: 5000, message: 'failed record not redelivered and then deleted' },
    );
    expect(calls[0]?.records.map((r) => r.body).sort()).toEqual([...bodies].sort());
    expect(deliveries(failing)).toEqual(['1', '2']);
    for (const body of bodies.filter((b) => b !== failing)) expect(deliveries(body)).toEqual(['1']);
    expect(source.stats).toMatchObject({ failedRecords: 1, deleted: 3, failedInvocations: 0 });
    expect(logs).toContainEqual(expect.objectContaining({ message: 'batch item failures', failedItems: 1 }));
    for (const body of bodies) expect(JSON.stringify(logs)).not.toContain(body);
  });

  it('leaves a record to the dead-letter queue after maxReceiveCount failures', async () => {
    const queue = createQueue({ maxReceiveCount: 2 });
    const { invoke, deliveries } = recorder(async (event) => failures(event.Records, () => true));
    start(queue, invoke);
    await sendAll(queue.url, ['poison']);

    const moved = await waitFor(
      async () => {
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, MessageSystemAttributeNames: ['All'] }),
        );
        return out.Messages?.[0];
      },
      { timeoutMs: 6000, message: 'poison message never reached the DLQ' },
    );
    expect(moved.Body).toBe('poison');
    expect(deliveries('poison')).toEqual(['1', '2']);
    // Gone from the source queue (not ready, delayed or in flight), so it cannot be delivered again.
    expect(depth(queue.name)).toBe(0);
    expect(deliveries('poison')).toEqual(['1', '2']);
  });

  it('never runs more than maxConcurrency invocations at once, and does run that many', async () => {
    const queue = createQueue({ visibilityTimeoutSeconds: 5 });
    let current = 0;
    let peak = 0;
    const { invoke, deliveries } = recorder(async () => {
      current++;
      peak = Math.max(peak, current);
      await new Promise((resolve) => setTimeout(resolve, 150)); // simulated work
      current--;
    });
    const { source } = start(queue, invoke, { batchSize: 1, maxConcurrency: 2 });
    const bodies = Array.from({ length: 8 }, (_, i) => `m${i}`);
    await sendAll(queue.url, bodies);

    await waitFor(() => depth(queue.name) === 0 && source.stats.deleted === bodies.length, {
      timeoutMs: 8000,
      message: 'queue not drained',
    });
    expect(peak).toBe(2);
    expect(source.stats.peakConcurrency).toBe(2);
    // Nothing was received ahead of a free slot (it would have aged in flight and come back).
    for (const body of bodies) expect(deliveries(body)).toEqual(['1']);
  });

  it('caps each batch at batchSize', async () => {
    const queue = createQueue({ visibilityTimeoutSeconds: 5 });
    const { calls, invoke, deliveries } = recorder();
    const { source } = start(queue, invoke, {
      batchSize: 5,
      maxBatchingWindowSeconds: 0.5,
      maxConcurrency: 3,
    });
    const bodies = Array.from({ length: 12 }, (_, i) => `b${i}`);
    await sendAll(queue.url, bodies);

    await waitFor(() => source.stats.deleted === bodies.length && depth(queue.name) === 0, {
      message: 'not all 12 processed',
    });
    const sizes = calls.map((call) => call.records.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
    expect(sizes).toContain(5);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(12);
    for (const body of bodies) expect(deliveries(body)).toEqual(['1']);
  });

  it('holds a lone record for the batching window so later ones join its batch', async () => {
    const queue = createQueue({ visibilityTimeoutSeconds: 10 });
    const { calls, invoke } = recorder();
    start(queue, invoke, { batchSize: 10, maxBatchingWindowSeconds: 1 });

    const sentAt = Date.now();
    await sendAll(queue.url, ['first']);
    // The poller has it (in flight) but has not invoked: the window is open.
    await waitFor(() => server.inspectQueue(queue.name)?.messages.inflight.length === 1, {
      message: 'first record never received',
    });
    expect(calls).toHaveLength(0);
    await sendAll(queue.url, ['second', 'third']);

    const [call] = await waitFor(() => calls.length > 0 && calls, {
      timeoutMs: 4000,
      message: 'no invocation',
    });
    expect(call?.records.map((r) => r.body)).toEqual(['first', 'second', 'third']);
    const waited = (call?.at ?? 0) - sentAt;
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(2500);
    await waitFor(() => depth(queue.name) === 0, { message: 'batch not deleted' });
    expect(calls).toHaveLength(1);
  });

  it('redelivers every record of a batch whose handler throws', async () => {
    const queue = createQueue();
    const bodies = ['t1', 't2', 't3'];
    const { calls, invoke, deliveries } = recorder(async (event) => {
      if (event.Records.some((r) => r.attributes.ApproximateReceiveCount === '1')) throw new Error('boom');
    });
    const { source, logs } = start(queue, invoke, { maxBatchingWindowSeconds: 0.3 });
    await sendAll(queue.url, bodies);

    await waitFor(() => depth(queue.name) === 0 && source.stats.deleted === bodies.length, {
      timeoutMs: 5000,
      message: 'batch not redelivered and then processed',
    });
    expect(calls[0]?.records.map((r) => r.receiveCount)).toEqual(['1', '1', '1']);
    for (const body of bodies) expect(deliveries(body)).toEqual(['1', '2']);
    expect(source.stats.failedInvocations).toBe(1);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'invocation failed',
        error: 'boom',
        failedItems: 3,
      }),
    );
  });

  it('abandons a handler past its function timeout: its late success is ignored and the batch comes back', async () => {
    // Visibility (2 s) outlasts the function's timeout (1 s), as AWS requires of a mapping's queue.
    const queue = createQueue({ visibilityTimeoutSeconds: 2 });
    let lateResults = 0;
    const { invoke: record, deliveries } = recorder(async (event) => {
      if (event.Records.some((r) => r.attributes.ApproximateReceiveCount === '1')) {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        lateResults++;
      }
      return { batchItemFailures: [] }; // success: it would delete the whole batch if it counted
    });
    const invoke: Invoke = (event) =>
      invokeWithTimeout('slowConsumer', { timeoutSeconds: 1, memoryMb: 128 }, (e) => record(e), event);
    const { source, logs } = start(queue, invoke, { maxBatchingWindowSeconds: 0.3 });
    await sendAll(queue.url, ['slow-1', 'slow-2']);

    await waitFor(() => lateResults === 1, {
      timeoutMs: 5000,
      message: 'the abandoned handler never finished',
    });
    // It returned success after it was abandoned: nothing was deleted.
    expect(source.stats.deleted).toBe(0);
    await waitFor(() => source.stats.deleted === 2 && depth(queue.name) === 0, {
      timeoutMs: 8000,
      message: 'batch not redelivered after the timeout',
    });
    for (const body of ['slow-1', 'slow-2']) expect(deliveries(body)).toEqual(['1', '2']);
    expect(source.stats.failedInvocations).toBe(1);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'invocation failed',
        errorType: 'LambdaTimeoutError',
        error: 'Task timed out after 1.00 seconds (slowConsumer)',
        failedItems: 2,
      }),
    );
  });

  it('counts each timed-out delivery towards maxReceiveCount: a handler that always times out lands in the DLQ', async () => {
    const queue = createQueue({ visibilityTimeoutSeconds: 2, maxReceiveCount: 2 });
    const { invoke: record, deliveries } = recorder(
      () => new Promise((resolve) => setTimeout(resolve, 1200)),
    );
    const invoke: Invoke = (event) =>
      invokeWithTimeout('hungConsumer', { timeoutSeconds: 1, memoryMb: 128 }, (e) => record(e), event);
    const { source } = start(queue, invoke);
    await sendAll(queue.url, ['hung']);

    const moved = await waitFor(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl }))).Messages?.[0],
      { timeoutMs: 10_000, message: 'the timed-out message never reached the DLQ' },
    );
    expect(moved.Body).toBe('hung');
    expect(deliveries('hung')).toEqual(['1', '2']);
    expect(source.stats).toMatchObject({ failedInvocations: 2, deleted: 0 });
  });

  it('fails the whole batch when the response names a record not in it', async () => {
    const queue = createQueue();
    const { invoke, deliveries } = recorder(async (event) =>
      event.Records[0]?.attributes.ApproximateReceiveCount === '1'
        ? { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }
        : { batchItemFailures: [] },
    );
    const { logs } = start(queue, invoke, { maxBatchingWindowSeconds: 0.3 });
    await sendAll(queue.url, ['u1', 'u2']);

    await waitFor(
      () => deliveries('u1').length === 2 && deliveries('u2').length === 2 && depth(queue.name) === 0,
      {
        timeoutMs: 5000,
        message: 'batch not redelivered',
      },
    );
    expect(logs).toContainEqual(
      expect.objectContaining({ message: 'invalid batch response; the whole batch failed' }),
    );
  });

  it('ignores batchItemFailures when reportBatchItemFailures is off', async () => {
    const queue = createQueue({ visibilityTimeoutSeconds: 10 });
    const { invoke, deliveries } = recorder(async (event) => failures(event.Records, () => true));
    const { source } = start(queue, invoke, { reportBatchItemFailures: false });
    await sendAll(queue.url, ['o1', 'o2']);

    // The queue can be empty a moment before the source has its DeleteMessageBatch answer.
    await waitFor(() => depth(queue.name) === 0 && source.stats.deleted === 2, {
      message: 'records not deleted',
    });
    expect(deliveries('o1')).toEqual(['1']);
    expect(source.stats).toMatchObject({ deleted: 2, failedRecords: 0 });
  });

  it('does not delete a failed record whose visibility the handler changed', async () => {
    // A long visibility timeout: only the handler's own ChangeMessageVisibility(0) brings it back quickly.
    const queue = createQueue({ visibilityTimeoutSeconds: 30 });
    const { invoke, deliveries } = recorder(async (event) => {
      const first = event.Records.filter((r) => r.attributes.ApproximateReceiveCount === '1');
      for (const r of first)
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queue.url,
            ReceiptHandle: r.receiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      return failures(event.Records, (r) => r.attributes.ApproximateReceiveCount === '1');
    });
    start(queue, invoke);
    await sendAll(queue.url, ['v1']);

    await waitFor(() => deliveries('v1').length === 2 && depth(queue.name) === 0, {
      timeoutMs: 4000,
      message: 'record released by the handler was not redelivered',
    });
    expect(deliveries('v1')).toEqual(['1', '2']);
  });

  it('stop() waits for the in-flight invocation, deletes its records, and resolves', async () => {
    const queue = createQueue({ visibilityTimeoutSeconds: 10 });
    let release: () => void = () => {};
    let finished = false;
    const { calls, invoke } = recorder(async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      finished = true;
    });
    const { source } = start(queue, invoke);
    running.pop(); // stopped here, not in afterEach
    await sendAll(queue.url, ['s1']);
    await waitFor(() => calls.length === 1, { message: 'not invoked' });

    let stopped = false;
    const stopping = source.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toBe(true);
    expect(source.stats).toMatchObject({ inFlight: 0, deleted: 1 });
    expect(depth(queue.name)).toBe(0);
    // Stopped means stopped: a new message is not received.
    await sendAll(queue.url, ['after-stop']);
    expect(server.inspectQueue(queue.name)?.messages.ready).toHaveLength(1);
  });

  it('leaves nothing behind after stop(): a process using it exits on its own', async () => {
    const queue = createQueue({ visibilityTimeoutSeconds: 10 });
    await sendAll(queue.url, ['c1']);
    // While the handler runs, a second poller long-polls; stop() must let it finish and clear every timer.
    const script = `
      const { SQSClient } = await import('@aws-sdk/client-sqs');
      const { startSqsEventSource } = await import(process.env.ESM_MODULE_URL);
      const cfg = JSON.parse(process.env.ESM_CONFIG);
      const say = (line) => process.stdout.write(line + '\\n');
      const sqs = new SQSClient({ endpoint: cfg.endpoint, region: 'us-east-1', credentials: cfg.credentials });
      let handled = false;
      const source = startSqsEventSource({
        sqs, queueUrl: cfg.queueUrl, queueArn: cfg.queueArn, functionName: 'child', log: () => {},
        consumer: { batchSize: 1, maxBatchingWindowSeconds: 0, maxConcurrency: 2, reportBatchItemFailures: true },
        invoke: async () => {
          say('invoked');
          source.stop().then(() => {
            say(handled ? 'stopped after handler' : 'stopped before handler');
            setTimeout(() => {
              say('still alive: ' + JSON.stringify(process.getActiveResourcesInfo()));
              process.exit(3);
            }, 4000).unref();
          });
          await new Promise((resolve) => setTimeout(resolve, 300));
          handled = true;
          say('handled');
        },
      });
    `;
    const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ESM_MODULE_URL: MODULE_URL,
        ESM_CONFIG: JSON.stringify({
          endpoint: server.address,
          queueUrl: queue.url,
          queueArn: queue.arn,
          credentials: CREDENTIALS,
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    let exitCode: number | null | undefined;
    child.on('exit', (code) => {
      exitCode = code;
    });
    try {
      await waitFor(() => exitCode !== undefined, {
        timeoutMs: 10_000,
        message: 'child process did not exit after stop()',
      });
    } finally {
      if (exitCode === undefined) child.kill();
    }
    expect({ exitCode, stdout, stderr }).toEqual({
      exitCode: 0,
      stdout: 'invoked\nhandled\nstopped after handler\n',
      stderr: '',
    });
    expect(depth(queue.name)).toBe(0);
  });
});
