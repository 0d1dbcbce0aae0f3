import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { type ApiTwin, startApiTwin, testPhone } from '../support/api-twin.ts';
import { expectKeptPromises } from '../support/drill.ts';

/**
 * A chaos drill with every AWS fault the twin can inject (TWIN_FAULTS), at rates far above what AWS
 * shows in a bad hour, against the whole pipeline: DynamoDB transaction conflicts, throttling and
 * internal errors, SQS outages, throttling and partial batch failures. The promises must hold:
 * nobody lost, nobody messaged twice, counts that add up, every broadcast final.
 */
const KEY = 'key-chaos-aws-0123456789';
const FAULTS = [
  'dynamodb.TransactionConflict=0.15',
  // Only a transaction meets it, and transactions are few (a broadcast's create, a chunk's count):
  // a high rate, so it is met.
  'dynamodb.ThrottlingError=0.25',
  'dynamodb.ThrottlingException=0.05',
  'dynamodb.ProvisionedThroughputExceededException=0.03',
  'dynamodb.InternalServerError=0.03',
  // The handlers make few SQS calls (ten send tasks per call): high rates, so each kind is met.
  'sqs.ServiceUnavailable=0.15',
  'sqs.ThrottlingException=0.15',
  'sqs.InternalFailure=0.1',
  'sqs.PartialFailure=0.15',
];

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: `acme:${KEY}`,
    SIM_MPS: '1000',
    SENDER_MPS: '200',
    TWIN_FAULTS: FAULTS.join(','),
    TWIN_FAULTS_SEED: '20261130',
    SWEEP_SCHEDULE_SECONDS: '2',
    SWEEP_STALE_SECONDS: '6',
    RETRY_SCHEDULE_SECONDS: '2',
    POWERTOOLS_LOG_LEVEL: 'SILENT', // the faults make the handlers log errors on purpose
  });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

describe('chaos drill: AWS faults (TWIN_FAULTS)', () => {
  it('keeps every promise for two broadcasts sent under every AWS fault at once', async () => {
    const lists = [
      Array.from({ length: 60 }, () => testPhone()),
      Array.from({ length: 40 }, () => testPhone()),
    ];
    const ids: string[] = [];
    for (const recipients of lists) {
      // The create route itself may meet a fault and answer 500: a client tries again with its key.
      const key = `drill-${recipients[0]}`;
      let created = await api.call('POST', '/v1/broadcasts', {
        key: KEY,
        headers: { 'idempotency-key': key },
        body: { template: { contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid }, recipients },
      });
      for (let tries = 0; created.status >= 500 && tries < 10; tries++)
        created = await api.call('POST', '/v1/broadcasts', {
          key: KEY,
          headers: { 'idempotency-key': key },
          body: { template: { contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid }, recipients },
        });
      expect(created.status, JSON.stringify(created.body)).toBe(202);
      ids.push(created.body.broadcastId);
    }
    for (const [n, id] of ids.entries()) {
      const done = await expectKeptPromises(api, KEY, id, lists[n] ?? [], { timeoutMs: 180_000 });
      expect(done.status).toBe('completed');
      for (const phone of lists[n] ?? []) expect(api.messagesTo(phone), phone).toBe(1);
    }
    // Every fault kind was really thrown at the pipeline.
    const injected = api.twin.faults?.injected() ?? {};
    for (const fault of FAULTS) expect(injected[fault.split('=')[0] as string], fault).toBeGreaterThan(0);
  }, 240_000);
});
