/**
 * One local twin for one bench scenario: free ports, a fresh DATA_DIR (on tmpfs when the machine
 * has one, so DynamoDB Local's SQLite file lives in memory), a tenant key of its own, the scenario's
 * simulator and handler settings, and optionally the request counters.
 *
 * Run one per process (bench/worker.ts): the handlers' SDK clients are process singletons that
 * keep the endpoints of the first twin they saw.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dynamoDocumentClient, sqs } from '../functions/commons/wiring.ts';
import { newApiKey } from '../functions/core/api-keys.ts';
import type { MetricName } from '../functions/core/service-metrics.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { localConfigFromEnv } from '../lib/local/config.ts';
import { metricSum } from '../lib/local/metrics-file.ts';
import { SAMPLE_TEMPLATES, type TwilioSimulator } from '../lib/local/twilio-simulator.ts';
import { type LocalTwin, startLocalTwin } from '../lib/local/twin.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { topology } from '../lib/topology.ts';
import { type AwsRequestCounter, EVENT_SOURCE_MAPPING, type MeteredTable } from './counting.ts';
import { PRICES } from './prices.ts';

// biome-ignore lint/suspicious/noExplicitAny: API answers are arbitrary JSON.
export type Json = Record<string, any>;

export const TENANT = 'bench';
/** A sample template of the Twilio simulator with one variable ("1"), which every bench request fills. */
export const CONTENT_SID = SAMPLE_TEMPLATES.subsidyReminder.contentSid;

export interface BenchTwin {
  readonly twin: LocalTwin;
  readonly simulator: TwilioSimulator;
  /** Where DATA_DIR is: `tmpfs` (in memory) or `disk`. */
  readonly storage: 'tmpfs' | 'disk';
  /** The total of a service metric the handlers have written so far (lib/local/metrics-file.ts). */
  metricSum(name: MetricName): number;
  /** When (epoch ms) the simulator answered 429 because a sender went over SIM_MPS. */
  readonly overLimitAnswers: number[];
  /** Warnings and errors the twin logged (event sources, gateway, schedules), by message. */
  readonly twinProblems: Record<string, number>;
  api(method: string, route: string, body?: unknown): Promise<{ status: number; body: Json; ms: number }>;
  /** POST /v1/broadcasts with these recipients; fails unless the answer is a 202 with all of them valid. */
  createBroadcast(
    recipients: readonly string[],
    name: string,
  ): Promise<{ broadcastId: string; ms: number; bodyBytes: number }>;
  /** Polls GET /v1/broadcasts/{id}/progress until `done` holds; the last answer. */
  untilProgress(
    broadcastId: string,
    done: (progress: Json) => boolean,
    options: { timeoutMs: number; intervalMs?: number; message: string },
  ): Promise<Json>;
  stop(): Promise<void>;
}

/** Twins running in this process, so a worker told to stop can stop them (DynamoDB Local is a Java child). */
const running = new Set<BenchTwin>();

export async function stopRunningTwins(): Promise<void> {
  await Promise.allSettled([...running].map((bench) => bench.stop()));
}

/** The tmpfs the bench keeps its state on when there is one (Linux), else the system temp dir. */
function scratchRoot(): { root: string; storage: 'tmpfs' | 'disk' } {
  return existsSync('/dev/shm')
    ? { root: '/dev/shm', storage: 'tmpfs' }
    : { root: tmpdir(), storage: 'disk' };
}

/**
 * DynamoDB Local yields the cores to the handlers here: on AWS, DynamoDB never takes a Lambda's
 * vCPU, and on a machine with nothing else running (as the bench asks) the handlers' event loop is
 * then not kept waiting by the emulator (README "Benchmark and cost"). Not `npm start`'s default:
 * next to other busy programs the emulator would starve (lib/local/config.ts). DYNAMODB_LOCAL_NICE
 * in the bench's environment overrides it, to compare.
 */
export const BENCH_DYNAMODB_LOCAL_NICE = '10';

export async function startBenchTwin(
  settings: Record<string, string>,
  options: { counter?: AwsRequestCounter } = {},
): Promise<BenchTwin> {
  const { root, storage } = scratchRoot();
  const dataDir = mkdtempSync(path.join(root, 'bench-twin-'));
  const apiKey = newApiKey();
  const overLimitAnswers: number[] = [];
  const twinProblems: Record<string, number> = {};
  const counter = options.counter;
  let twin: LocalTwin;
  try {
    twin = await startLocalTwin(
      localConfigFromEnv({
        DATA_DIR: dataDir,
        PORT: '0',
        TWILIO_SIMULATOR_PORT: '0',
        LOCAL_API_KEYS: `${TENANT}:${apiKey}`,
        DYNAMODB_LOCAL_NICE: process.env.DYNAMODB_LOCAL_NICE || BENCH_DYNAMODB_LOCAL_NICE,
        ...settings,
      }),
      {
        log: (entry) => {
          const message = String(entry.message ?? '');
          if (entry.source === 'twilio-simulator') {
            // "429 for sender whatsapp:+*******8886: over 50 messages per second" (lib/local/twilio-simulator.ts).
            if (message.startsWith('429 for sender')) overLimitAnswers.push(Date.now());
            return;
          }
          const level = String(entry.level ?? '').toLowerCase();
          if (level === 'warn' || level === 'error') twinProblems[message] = (twinProblems[message] ?? 0) + 1;
        },
        ...(counter
          ? {
              instrument: {
                pollerSqsClient: (client) =>
                  counter.countSqs(client, {
                    caller: EVENT_SOURCE_MAPPING,
                    chunkBytes: PRICES.sqs.chunkBytes,
                  }),
                wrapInvoke: counter.wrapInvoke,
              },
            }
          : {}),
      },
    );
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  if (counter) {
    // The handlers' shared clients, created now (the twin has set their endpoints) and before any
    // handler runs, so every request they make is counted.
    try {
      await counter.countDynamo(dynamoDocumentClient(), {
        endpoint: twin.dynamodbEndpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        tables: meteredTables(twin.tableNames),
      });
    } catch (error) {
      await twin.stop();
      rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
    counter.countSqs(sqs(), { chunkBytes: PRICES.sqs.chunkBytes });
    counter.setFunctionUrlHosts(Object.values(twin.functionUrls).map((url) => new URL(url).host));
  }
  const simulator = twin.simulator;
  if (!simulator) throw new Error('the bench needs the Twilio simulator');

  const api: BenchTwin['api'] = async (method, route, body) => {
    const started = performance.now();
    const res = await fetch(`${twin.apiUrl}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: (text ? JSON.parse(text) : {}) as Json,
      ms: performance.now() - started,
    };
  };

  const bench: BenchTwin = {
    twin,
    simulator,
    storage,
    metricSum: (name) => metricSum(dataDir, name),
    overLimitAnswers,
    twinProblems,
    api,
    async createBroadcast(recipients, name) {
      const request = { name, template: { contentSid: CONTENT_SID, variables: { '1': name } }, recipients };
      const bodyBytes = Buffer.byteLength(JSON.stringify(request));
      const { status, body, ms } = await api('POST', '/v1/broadcasts', request);
      if (status !== 202)
        throw new Error(`POST /v1/broadcasts answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
      if (body.totalRecipients !== recipients.length)
        throw new Error(
          `POST /v1/broadcasts kept ${body.totalRecipients} of ${recipients.length} recipients (${body.invalidRecipientsCount} invalid, ${body.duplicateRecipientsCount} duplicates)`,
        );
      return { broadcastId: String(body.broadcastId), ms, bodyBytes };
    },
    untilProgress(broadcastId, done, { timeoutMs, intervalMs = 250, message }) {
      return waitFor(
        async () => {
          const { status, body } = await api('GET', `/v1/broadcasts/${broadcastId}/progress`);
          if (status !== 200) throw new Error(`progress answered ${status}`);
          return done(body) ? body : undefined;
        },
        { timeoutMs, intervalMs, message },
      );
    },
    async stop() {
      running.delete(bench);
      try {
        await twin.stop();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  running.add(bench);
  return bench;
}

/** The topology's tables under their local names, as the meter needs them. */
function meteredTables(names: Readonly<Record<string, string>>): MeteredTable[] {
  return Object.entries(topology.tables).map(([id, spec]) => ({
    name: names[id] ?? id,
    partitionKey: spec.partitionKey,
    sortKey: spec.sortKey,
    indexes: spec.globalIndexes.map((index) => ({
      name: index.name,
      partitionKey: index.partitionKey,
      ...(index.sortKey ? { sortKey: index.sortKey } : {}),
    })),
  }));
}

/** Recipients no longer pending, queued or sending: sent or beyond, or finally failed. */
export const allProcessed = (total: number) => (progress: Json) => progress.processedCount >= total;
