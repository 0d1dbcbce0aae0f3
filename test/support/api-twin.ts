import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { queueDepth } from '../../functions/adapters/dead-letters.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { localConfigFromEnv } from '../../lib/local/config.ts';
import { type LocalTwin, type LocalTwinOptions, startLocalTwin } from '../../lib/local/twin.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { claimSharedDynamodb } from './shared-dynamodb.ts';

const FINAL = ['completed', 'partial', 'failed'];

// biome-ignore lint/suspicious/noExplicitAny: response bodies are arbitrary JSON, checked by the matchers.
export type Json = Record<string, any>;

export interface ApiTwin {
  readonly twin: LocalTwin;
  readonly dataDir: string;
  /** One HTTP call to the twin's API; the body parsed as JSON. */
  call(
    method: string,
    route: string,
    options?: { key?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Json }>;
  /** How many messages the Twilio simulator accepted for this E.164 number. */
  messagesTo(phone: string): number;
  /** A Twilio simulator control (`/_simulator/…`, JSON in and out): the contact taps or writes. */
  simulator(route: string, body?: unknown): Promise<{ status: number; body: Json }>;
  /**
   * Waits until a queue has nothing visible, delayed or in flight: every task enqueued before the
   * call has been handled (a send task's provider call happens before its message is deleted).
   * `{ delayed: false }`: delayed messages (put back to wait, e.g. for a claim's lease) do not count.
   */
  untilQueueDrained(queue?: string, options?: { delayed?: boolean }): Promise<void>;
  /**
   * GET /v1/broadcasts/{id}/progress's body. Counts follow the recipients' changes through the stream
   * aggregator, about a second behind: assert on them with `expect.poll(() => api.progress(…))`.
   */
  progress(id: string, key: string): Promise<Json>;
  /**
   * Polls GET /v1/broadcasts/{id} until it is in `until` (a status, or a test of the body; by default
   * any final status) and returns the body; fails with a message after the deadline.
   */
  untilBroadcast(
    id: string,
    key: string,
    until?: string | ((body: Json) => boolean),
    options?: { timeoutMs?: number; message?: string },
  ): Promise<Json>;
  stop(): Promise<void>;
}

/** An in-process local twin on free ports in a temp DATA_DIR, for tests that go through the HTTP API. */
export async function startApiTwin(
  env: Record<string, string>,
  options: Pick<LocalTwinOptions, 'scheduler' | 'log' | 'topology' | 'instrument'> = {},
): Promise<ApiTwin> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'api-twin-'));
  // The run's one DynamoDB Local (shared-dynamodb.ts), when it has one.
  const shared = claimSharedDynamodb('startApiTwin');
  const twin = await startLocalTwin(
    localConfigFromEnv({
      DATA_DIR: dataDir,
      PORT: '0',
      TWILIO_SIMULATOR_PORT: '0',
      SIM_LATENCY_MS: '5',
      // What each function's calls needed, for narrowing its grants (README, "Grants").
      ...(process.env.TWIN_GRANTS_LOG ? { TWIN_GRANTS_LOG: process.env.TWIN_GRANTS_LOG } : {}),
      ...env,
    }),
    { log: () => {}, ...(shared.endpoint ? { dynamodbEndpoint: shared.endpoint } : {}), ...options },
  ).catch((error: unknown) => {
    shared.release();
    throw error;
  });
  const sqs = new SQSClient({
    endpoint: twin.sqsEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const call: ApiTwin['call'] = async (method, route, options = {}) => {
    const res = await fetch(`${twin.apiUrl}${route}`, {
      method,
      headers: {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
  };
  return {
    twin,
    dataDir,
    call,
    progress: async (id, key) => (await call('GET', `/v1/broadcasts/${id}/progress`, { key })).body,
    untilBroadcast(id, key, until, options = {}) {
      const done =
        typeof until === 'function'
          ? until
          : (body: Json) => (until ? body.status === until : FINAL.includes(body.status));
      let last: Json | undefined;
      return waitFor(
        async () => {
          const { body } = await call('GET', `/v1/broadcasts/${id}`, { key });
          last = body;
          return done(body) ? body : undefined;
        },
        {
          timeoutMs: options.timeoutMs ?? 60_000,
          intervalMs: 250,
          message: options.message ?? `broadcast ${id} did not reach ${until ?? 'a final status'}`,
        },
      ).catch((error: Error) => {
        // What it was at the deadline, so a failure says how far it got.
        const seen = last ? `; last seen: ${last.status}, counts ${JSON.stringify(last.counts)}` : '';
        throw new Error(`${error.message}${seen}`, { cause: error });
      });
    },
    async simulator(route, body) {
      const res = await fetch(`${twin.simulator?.url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
      return { status: res.status, body: (await res.json()) as Json };
    },
    async untilQueueDrained(queue = 'send', { delayed = true } = {}) {
      const url = twin.queues[queue]?.main.url ?? '';
      await waitFor(
        async () => {
          const depth = await queueDepth(sqs, url);
          return depth.visible + depth.inFlight + (delayed ? depth.delayed : 0) === 0 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, message: `the ${queue} queue did not drain` },
      );
    },
    messagesTo: (phone) => twin.simulator?.messagesTo(`whatsapp:${phone}`).length ?? 0,
    async stop() {
      sqs.destroy();
      await twin.stop();
      shared.release();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let sequence = Math.floor(Math.random() * 1_000_000);

/**
 * A valid Israeli mobile whose last four digits pick the simulator's behaviour ('0002' fails with
 * 63024, API.md); by default an ordinary number (never 000x). Distinct within a test file: the
 * default ones for a million calls in a row, those with a given ending for a thousand.
 */
export function testPhone(lastFour?: string): string {
  const n = sequence++;
  const threeDigits = (k: number) => String(k % 1000).padStart(3, '0');
  return lastFour
    ? `+97250${threeDigits(n)}${lastFour}`
    : `+97250${threeDigits(Math.floor(n / 1000))}5${threeDigits(n)}`;
}
