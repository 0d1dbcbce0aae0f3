import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterDepth, queueDepth, redriveDeadLetters } from '../functions/adapters/dead-letters.ts';
import { DynamoSendLedger } from '../functions/adapters/dynamo-send-ledger.ts';
import type { SendTask } from '../functions/core/ports.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { localSqsClient } from '../lib/local/sqs-local.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { type LocalTwin, REPO_ROOT } from '../lib/local/twin.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from './support/api-twin.ts';

const ACME = 'key-acme-metrics-0123456789';
const GLOBEX = 'key-globex-metrics-0123456789';
const INITECH = 'key-initech-metrics-0123456789';
const HOOLI = 'key-hooli-metrics-0123456789';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;

let api: ApiTwin;
let twin: LocalTwin;
let dataDir: string;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX},initech:${INITECH},hooli:${HOOLI}`,
    SIM_MPS: '1000',
  });
  twin = api.twin;
  dataDir = api.dataDir;
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

const call = (method: string, route: string, options: { key?: string; body?: unknown } = {}) =>
  api.call(method, route, options);

const metrics = async (key: string) => {
  const res = await call('GET', '/v1/metrics', { key });
  expect(res.status).toBe(200);
  return res.body;
};

const phone = testPhone;
const finished = (id: string, key: string, status?: string) => api.untilBroadcast(id, key, status);

/** The operator CLI as a child process (asynchronous: the twin it talks to runs in this process). */
async function cli(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      path.join(REPO_ROOT, 'node_modules/.bin/node'),
      ['bin/cli.ts', ...args],
      { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, DATA_DIR: dataDir } },
    );
    return { status: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { status: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('GET /v1/metrics', () => {
  it('needs a tenant API key', async () => {
    const none = await call('GET', '/v1/metrics');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    expect((await call('GET', '/v1/metrics', { key: 'not-a-key' })).status).toBe(401);
  });

  it("counts the tenant's recent sends and failures once a broadcast ends; another tenant sees zeros", async () => {
    expect(await metrics(ACME)).toMatchObject({
      pendingCount: 0,
      sentLast5m: 0,
      failedLast5m: 0,
      activeBroadcasts: 0,
    });
    // 0003: the provider refuses the create (21211): failed without ever being sent.
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        name: 'Metrics',
        template: { contentSid: CONTENT_SID },
        recipients: [phone(), phone(), phone('0003')],
      },
    });
    expect(created.status).toBe(202);
    const broadcast = await finished(created.body.broadcastId, ACME, 'partial');
    const sent = broadcast.counts.sent + broadcast.counts.delivered + broadcast.counts.read;
    expect(sent).toBe(2);
    expect(broadcast.counts.failed).toBe(1);

    const acme = await metrics(ACME);
    expect(acme).toMatchObject({ pendingCount: 0, sentLast5m: sent, failedLast5m: 1, activeBroadcasts: 0 });
    // The twin gives the function the dead-letter queue URLs: the deployment-wide extension is there.
    expect(acme.deadLetterCount).toEqual(expect.any(Number));

    expect(await metrics(GLOBEX)).toMatchObject({
      pendingCount: 0,
      sentLast5m: 0,
      failedLast5m: 0,
      activeBroadcasts: 0,
    });
  }, 90_000);

  it('counts a broadcast that has not ended as active, its recipients as pending', async () => {
    const created = await call('POST', '/v1/broadcasts', {
      key: HOOLI,
      body: {
        name: 'Later',
        template: { contentSid: CONTENT_SID },
        recipients: [phone(), phone()],
        scheduledAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    expect(created.status).toBe(202);
    expect(await metrics(HOOLI)).toMatchObject({
      pendingCount: 2,
      sentLast5m: 0,
      failedLast5m: 0,
      activeBroadcasts: 1,
    });
  });
});

describe('redriveDeadLetters', () => {
  it('moves bodies and message attributes in batches, at most `max`, and deletes only what it moved', async () => {
    const sqs = localSqsClient(twin.sqsEndpoint);
    try {
      const [source, dlq] = await Promise.all(
        ['redrive-test-source', 'redrive-test-dlq'].map(async (QueueName) => {
          const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName }));
          return QueueUrl as string;
        }),
      );
      for (let i = 0; i < 12; i++)
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: dlq,
            MessageBody: `{"n":${i}}`,
            MessageAttributes: { origin: { DataType: 'String', StringValue: `m${i}` } },
          }),
        );
      expect(await deadLetterDepth(sqs, [dlq as string])).toBe(12);

      const result = await redriveDeadLetters(sqs, {
        deadLetterUrl: dlq as string,
        targetUrl: source as string,
        max: 11,
      });
      expect(result).toEqual({ moved: 11, failed: 0, notDeleted: 0 });
      expect(await queueDepth(sqs, dlq as string)).toMatchObject({ visible: 1, inFlight: 0 });

      const moved: { body: string; origin: string | undefined }[] = [];
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: source,
            MaxNumberOfMessages: 10,
            MessageAttributeNames: ['All'],
          }),
        );
        if (Messages.length === 0) break;
        for (const m of Messages)
          moved.push({ body: m.Body ?? '', origin: m.MessageAttributes?.origin?.StringValue });
      }
      expect(moved).toHaveLength(11);
      for (const m of moved) expect(m.origin).toBe(`m${(JSON.parse(m.body) as { n: number }).n}`);
      expect(new Set(moved.map((m) => m.body)).size).toBe(11);
    } finally {
      sqs.destroy();
    }
  });
});

describe('dead letters', () => {
  it('a task parked in the send DLQ shows in deadLetterCount, and `dlq redrive --local` puts it back to be sent', async () => {
    // A recipient that failed for good, put back to queued at attempt 2 with its send task "lost"
    // to the dead-letter queue: the situation a redrive is for.
    const target = phone('0002');
    const created = await call('POST', '/v1/broadcasts', {
      key: INITECH,
      body: { name: 'Dead letter', template: { contentSid: CONTENT_SID }, recipients: [target] },
    });
    expect(created.status).toBe(202);
    const broadcastId: string = created.body.broadcastId;
    await finished(broadcastId, INITECH, 'failed');
    const sentBefore = twin.simulator?.messagesTo(`whatsapp:${target}`) ?? [];
    expect(sentBefore).toHaveLength(1);

    const db = new DynamoDBClient({
      endpoint: twin.dynamodbEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const sqs = localSqsClient(twin.sqsEndpoint);
    try {
      const ledger = new DynamoSendLedger(DynamoDBDocumentClient.from(db), twin.tableNames.main as string);
      const key = { tenantId: 'initech', broadcastId, index: 0 };
      expect(await ledger.requeueForRetry(key, 1, new Date())).toMatchObject({
        status: 'queued',
        attempts: 2,
      });
      const task: SendTask = { ...key, attempt: 2, phone: target, variables: {} };
      const send = twin.queues.send;
      if (!send) throw new Error('no send queue');
      await sqs.send(
        new SendMessageCommand({ QueueUrl: send.deadLetter.url, MessageBody: JSON.stringify(task) }),
      );

      expect((await metrics(INITECH)).deadLetterCount).toBe(1);
      // Deployment-wide, not per tenant: every tenant sees the same number.
      expect((await metrics(GLOBEX)).deadLetterCount).toBe(1);

      const status = await cli('dlq', 'status', '--local', '--json');
      expect(status.status, status.stderr).toBe(0);
      const report = JSON.parse(status.stdout) as Json[];
      expect(report.find((q) => q.queue === 'send')?.deadLetter).toMatchObject({ visible: 1 });
      expect(report.find((q) => q.queue === 'fanOut')?.deadLetter).toMatchObject({ visible: 0 });

      const redrive = await cli('dlq', 'redrive', '--queue', 'send', '--local');
      expect(redrive.status, redrive.stderr).toBe(0);
      expect(redrive.stdout).toContain('Moved 1 message(s)');

      // Back on the send queue, the consumer sends it: the simulator gets the second attempt.
      await waitFor(() => (twin.simulator?.messagesTo(`whatsapp:${target}`).length ?? 0) >= 2, {
        timeoutMs: 30_000,
        intervalMs: 200,
        message: 'the redriven send task was not sent',
      });
      expect((await metrics(INITECH)).deadLetterCount).toBe(0);
    } finally {
      db.destroy();
      sqs.destroy();
    }
  }, 120_000);

  it('the CLI refuses an unknown queue or missing URLs, with the usage', async () => {
    const badQueue = await cli('dlq', 'redrive', '--queue', 'nope', '--local');
    expect(badQueue.status).toBe(2);
    expect(badQueue.stderr).toContain('--queue must be one of send, fanOut');
    const noUrls = await cli('dlq', 'status', '--queue', 'send');
    expect(noUrls.status).toBe(2);
    expect(noUrls.stderr).toContain('Usage:');
  });
});
