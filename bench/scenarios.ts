/**
 * The bench's scenarios. Each starts its own twin (fresh state, its own simulator settings), runs
 * one measurement through the product's public surfaces (the HTTP API, the Twilio simulator, signed
 * webhooks) and answers plain JSON. bench/worker.ts runs one per process.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import twilio from 'twilio';
import { DynamoBroadcasts } from '../functions/adapters/dynamo-broadcasts.ts';
import { fanOutCountsKey } from '../functions/adapters/table-layout.ts';
import { createTwilioClient } from '../functions/adapters/twilio-client.ts';
import { sendConcurrencyFor } from '../functions/core/pacing.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { SIMULATOR_DEFAULT_FROM } from '../lib/local/config.ts';
import { callbackParams } from '../lib/local/twilio-simulator/lifecycle.ts';
import type { SimulatedMessage } from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { topology } from '../lib/topology.ts';
import { allProcessed, CONTENT_SID, type Json, startBenchTwin, TENANT } from './bench-twin.ts';
import { billedMsAlone, type CostReport, costReport, LAMBDA_MB_PER_VCPU } from './cost.ts';
import { AwsRequestCounter } from './counting.ts';
import { type CpuSample, type CpuShare, cpuShare, sampleCpu } from './cpu.ts';
import { type InvocationTime, startLambdaEnvironment } from './lambda-environment.ts';
import { DEFAULT_SEND_RATE_MPS, SEND_RATE_MPS_VARIABLE } from './options.ts';
import { ordinaryPhones, phonesEndingIn } from './phones.ts';
import { PRICES } from './prices.ts';
import { perSecondCounts, steadyRate } from './steady-rate.ts';
import { WARM_UP_RECIPIENTS_AT_FULL_SPEED, warmUp } from './warm-up.ts';

export type Say = (text: string) => void;

/** The bench's own progress polling: an admin's reads, not part of sending to a recipient. */
const BENCH_POLLING = ['queryBroadcasts'];
const STATUS_WEBHOOK = 'twilioStatusWebhook';
const SEND_CONSUMER = 'sendMessages';

/** Messages of one broadcast (its StatusCallback names it). */
function messagesOf(messages: readonly SimulatedMessage[], broadcastId: string): SimulatedMessage[] {
  return messages.filter((m) => m.statusCallback?.includes(`b=${encodeURIComponent(broadcastId)}`));
}

/** Recipients that got more than one message. */
function duplicatesAmong(messages: readonly SimulatedMessage[]): number {
  const perRecipient = new Map<string, number>();
  for (const m of messages) perRecipient.set(m.to, (perRecipient.get(m.to) ?? 0) + 1);
  return [...perRecipient.values()].filter((count) => count > 1).length;
}

/**
 * POSTs a status callback for `message` to its StatusCallback URL (the status webhook's Function URL
 * on the twin), signed with `authToken` as Twilio signs; answers the HTTP status.
 */
async function postStatusCallback(
  authToken: string,
  message: SimulatedMessage,
  status: 'delivered' | 'read',
): Promise<number> {
  const url = message.statusCallback ?? '';
  const params = callbackParams({ ...message, status });
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(authToken, url, params),
    },
    body: new URLSearchParams(params),
  });
  await res.arrayBuffer();
  return res.status;
}

/** DynamoDB calls (and refusals) per recipient by operation and item, every caller but the bench's polling. */
async function callsPerRecipient(
  counter: AwsRequestCounter,
  recipients: number,
): Promise<Record<string, { calls: number; failed: number }>> {
  const out: Record<string, { calls: number; failed: number }> = {};
  for (const [caller, counts] of Object.entries((await counter.snapshot()).byCaller)) {
    if (BENCH_POLLING.includes(caller)) continue;
    for (const [target, c] of Object.entries(counts.callsByTarget)) {
      out[target] ??= { calls: 0, failed: 0 };
      out[target].calls += c.calls / recipients;
      out[target].failed += c.failed / recipients;
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([, a], [, b]) => b.calls - a.calls));
}

// ── Load: what the box was doing ──────────────────────────────────────────────────────────────

interface Sample {
  readonly at: number;
  readonly dynamoCalls: number;
  readonly callbacks: number;
  readonly sends: number;
  readonly sendInvocationsRunning: number;
  readonly cpu: CpuSample;
}

const sampleLoad = (counter: AwsRequestCounter): Sample => ({
  at: Date.now(),
  dynamoCalls: counter.dynamoCalls(),
  callbacks: counter.invocationsOf(STATUS_WEBHOOK),
  sends: counter.invocationsOf(SEND_CONSUMER),
  sendInvocationsRunning: counter.runningNow()[SEND_CONSUMER] ?? 0,
  cpu: sampleCpu(),
});

/** What the box was doing over a window: the evidence for what bounded a rate. */
export interface Load extends CpuShare {
  readonly seconds: number;
  readonly dynamodbCallsPerSecond: number;
  /** Status callbacks the webhook took per second (invocations of its function). */
  readonly callbacksPerSecond: number;
  /** Send consumer invocations running at once, on average over the samples, and at most. */
  readonly sendInvocationsRunning: { readonly mean: number; readonly max: number };
}

function loadBetween(samples: readonly Sample[], fromMs: number, toMs: number): Load | null {
  const first = samples.findLast((s) => s.at <= fromMs) ?? samples[0];
  const last = samples.find((s) => s.at >= toMs) ?? samples.at(-1);
  if (!first || !last || last.at <= first.at) return null;
  const seconds = (last.at - first.at) / 1000;
  const inside = samples.filter((s) => s.at >= first.at && s.at <= last.at);
  const running = inside.map((s) => s.sendInvocationsRunning);
  return {
    seconds,
    dynamodbCallsPerSecond: (last.dynamoCalls - first.dynamoCalls) / seconds,
    callbacksPerSecond: (last.callbacks - first.callbacks) / seconds,
    sendInvocationsRunning: {
      mean: running.reduce((a, b) => a + b, 0) / Math.max(1, running.length),
      max: Math.max(0, ...running),
    },
    ...cpuShare(first.cpu, last.cpu),
  };
}

// ── 1. Send rate at the provider's limit, callbacks live ──────────────────────────────────────

export interface SendRateResult {
  /** DynamoDB calls, callbacks per second, busy cores over the steady window: what bounded the rate. */
  readonly load: Load | null;
  readonly recipients: number;
  readonly configuredMps: number;
  readonly simulatorMps: number;
  readonly simulatorLatencyMs: number;
  readonly simulatorCallbackDelayMs: number;
  /** The simulator posted its status callbacks (sent, delivered, read) during the send window. */
  readonly callbacksLive: boolean;
  /** Send consumer's event source concurrency (topology, scaled to SENDER_MPS as on AWS). */
  readonly sendMaxConcurrency: number;
  readonly sendRateMps: number;
  readonly sendRateRatio: number;
  readonly medianPerSecond: number;
  readonly method: string;
  readonly steadyFromS: number;
  readonly steadyToS: number;
  readonly provider429: number;
  /**
   * Slots the send consumer left unused while the sender was busy during this broadcast, start and
   * end included (its MissedSendSlots metric: a send too late for its slot books another). Pacing
   * aims at RATE_HEADROOM of the sender's rate and never reuses a slot, so while the sender is busy
   * the rate is RATE_HEADROOM × sent ÷ (sent + missed): most of what sendRateRatio lacks.
   */
  readonly missedSendSlots: number;
  readonly duplicates: number;
  /** Every recipient reached sent or beyond before the deadline. */
  readonly completed: boolean;
  readonly accepted: number;
  readonly sendWindowS: number;
  readonly wallS: number;
  /** DynamoDB calls per recipient over the run (every caller), the send path's load on the emulator. */
  readonly dynamodbCallsPerRecipient: number;
  /** The same by operation and item (`UpdateItem recipient`), with the refused ones. */
  readonly dynamodbCallsByTarget: Record<string, { calls: number; failed: number }>;
  readonly acceptedPerSecond: number[];
  readonly rejectedPerSecond: number[];
  readonly callbacksPerSecondSeries: number[];
  readonly twinProblems: Record<string, number>;
  readonly storage: string;
}

/** The simulator's default delay between a message's status steps (SIM_CALLBACK_DELAY_MS). */
const LIVE_CALLBACK_DELAY_MS = 150;

export async function sendRate(say: Say): Promise<SendRateResult> {
  const recipients = 2000;
  const configuredMps = Number(process.env[SEND_RATE_MPS_VARIABLE] || DEFAULT_SEND_RATE_MPS);
  const simulatorLatencyMs = 30;
  // Calls and invocations only: what the emulator did each second tells whether it was the bound.
  const counter = new AwsRequestCounter({ consumedCapacity: false });
  const bench = await startBenchTwin(
    {
      SENDER_MPS: String(configuredMps),
      SIM_MPS: String(configuredMps),
      SIM_LATENCY_MS: String(simulatorLatencyMs),
      // Callbacks live: sent, delivered and read come 150 ms apart while the send goes on.
      SIM_CALLBACK_DELAY_MS: String(LIVE_CALLBACK_DELAY_MS),
    },
    { counter },
  );
  await warmUp(bench, { counter, timeoutMs: 90_000, say }).catch(async (error: unknown) => {
    await bench.stop();
    throw error;
  });
  const samples: Sample[] = [];
  const sampler = setInterval(() => samples.push(sampleLoad(counter)), 1000);
  const callbackTimes: number[] = [];
  let lastCallbacks = 0;
  const callbackSampler = setInterval(() => {
    const now = counter.invocationsOf(STATUS_WEBHOOK);
    for (let i = lastCallbacks; i < now; i++) callbackTimes.push(Date.now());
    lastCallbacks = now;
  }, 100);
  // The send consumer writes its metrics when an invocation ends: the warm-up's are all in once none runs.
  const sendsSettled = (timeoutMs: number) =>
    waitFor(() => ((counter.runningNow()[SEND_CONSUMER] ?? 0) === 0 ? true : undefined), {
      timeoutMs,
      intervalMs: 100,
      message: `send invocations still running after ${timeoutMs / 1000} s`,
    });
  try {
    await sendsSettled(30_000).catch((error: unknown) =>
      say(`${(error as Error).message}; the warm-up's last missed slots may count in this broadcast's`),
    );
    const missedBefore = bench.metricSum('MissedSendSlots');
    samples.push(sampleLoad(counter));
    const started = Date.now();
    // Nothing else sends now (the warm-up is read by all): the simulator's count says when all are in.
    const before = bench.simulator.messageCount();
    const { broadcastId } = await bench.createBroadcast(ordinaryPhones(recipients), 'bench send rate');
    say(
      `broadcast of ${recipients} accepted; sending at ${configuredMps}/s takes ${recipients / configuredMps} s at best, status callbacks live`,
    );
    let completed = true;
    try {
      // Every half second: each count is a read the twin's event loop waits on while the simulator's
      // thread answers (p99 7.7 ms, up to 46 ms in a send-rate run), the loop that paces the sends.
      // The rate comes from the acceptance times, not from when this wait ends.
      await waitFor(() => (bench.simulator.messageCount() - before >= recipients ? true : undefined), {
        timeoutMs: 180_000,
        intervalMs: 500,
        message: 'not every recipient was sent within 3 minutes',
      });
    } catch (error) {
      completed = false;
      say(`${(error as Error).message}; measuring what was sent`);
    }
    const wallS = (Date.now() - started) / 1000;
    const messages = messagesOf(bench.simulator.messages(), broadcastId);
    const acceptedAt = messages.map((m) => Date.parse(m.dateCreated)).sort((a, b) => a - b);
    const origin = acceptedAt[0] ?? started;
    const steady = steadyRate(acceptedAt);
    const acceptedPerSecond = perSecondCounts(acceptedAt, origin);
    const rejectedPerSecond = perSecondCounts(
      bench.overLimitAnswers.filter((t) => t >= origin),
      origin,
      acceptedPerSecond.length,
    );
    const callbacksPerSecondSeries = perSecondCounts(
      callbackTimes.filter((t) => t >= origin),
      origin,
      acceptedPerSecond.length,
    );
    samples.push(sampleLoad(counter));
    const load = loadBetween(samples, origin + steady.fromMs, origin + steady.toMs);
    await sendsSettled(30_000).catch((error: unknown) =>
      say(`${(error as Error).message}; missed slots so far`),
    );
    const missedSendSlots = bench.metricSum('MissedSendSlots') - missedBefore;
    return {
      load,
      recipients,
      configuredMps,
      simulatorMps: configuredMps,
      simulatorLatencyMs,
      simulatorCallbackDelayMs: LIVE_CALLBACK_DELAY_MS,
      callbacksLive: (load?.callbacksPerSecond ?? 0) > 0,
      sendMaxConcurrency: sendMaxConcurrency(configuredMps),
      sendRateMps: steady.ratePerSecond,
      sendRateRatio: steady.ratePerSecond / configuredMps,
      medianPerSecond: steady.medianPerSecond,
      method: steady.method,
      steadyFromS: steady.fromMs / 1000,
      steadyToS: steady.toMs / 1000,
      provider429: bench.overLimitAnswers.filter((t) => t >= started).length,
      missedSendSlots,
      duplicates: duplicatesAmong(messages),
      completed,
      accepted: messages.length,
      sendWindowS: ((acceptedAt.at(-1) ?? origin) - origin) / 1000,
      wallS,
      dynamodbCallsPerRecipient: counter.dynamoCalls() / recipients,
      dynamodbCallsByTarget: await callsPerRecipient(counter, recipients),
      acceptedPerSecond,
      rejectedPerSecond,
      callbacksPerSecondSeries,
      twinProblems: bench.twinProblems,
      storage: bench.storage,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(callbackSampler);
    await bench.stop();
  }
}

/** The send consumer's max concurrency at a sender rate, as lib/stack.ts and the twin set it. */
function sendMaxConcurrency(mps: number): number {
  const consumer = topology.consumers.find((c) => c.function === SEND_CONSUMER);
  return sendConcurrencyFor(mps, undefined, consumer?.maxConcurrency ?? 2);
}

// ── 2. Against a naive loop ────────────────────────────────────────────────────────────────────

export interface NaiveResult {
  /** The box while ours ran: at SENDER_MPS 1000 this is the whole pipeline's ceiling here. */
  readonly oursLoad: Load | null;
  readonly recipients: number;
  readonly simulatorLatencyMs: number;
  readonly configuredMps: number;
  readonly sendMaxConcurrency: number;
  readonly naiveMs: number;
  /** Until GET …/progress counted every recipient sent (their `sent` callbacks applied and counted). */
  readonly oursMs: number;
  readonly naiveSpeedup: number;
  /** Until Twilio (the simulator) had accepted every message: where the naive loop's clock stops. */
  readonly oursAcceptedMs: number | null;
  readonly duplicates: number;
  /** DynamoDB calls per recipient while ours ran (every caller: sends, callbacks, aggregator). */
  readonly dynamodbCallsPerRecipient: number;
  /** The same by operation and item (`UpdateItem recipient`), with the refused ones. */
  readonly dynamodbCallsByTarget: Record<string, { calls: number; failed: number }>;
}

export async function naive(say: Say): Promise<NaiveResult> {
  const recipients = 1000;
  const simulatorLatencyMs = 100;
  const configuredMps = 1000;
  const counter = new AwsRequestCounter({ consumedCapacity: false });
  const bench = await startBenchTwin(
    {
      SENDER_MPS: String(configuredMps),
      SIM_MPS: String(configuredMps),
      SIM_LATENCY_MS: String(simulatorLatencyMs),
    },
    { counter },
  );
  try {
    const phones = ordinaryPhones(recipients);
    const { simulator } = bench;
    const client = createTwilioClient({
      accountSid: simulator.accountSid,
      authToken: simulator.authToken,
      apiBaseUrl: simulator.url,
    });
    say(`naive: ${recipients} sequential messages.create calls (${simulatorLatencyMs} ms each at least)`);
    const naiveStarted = performance.now();
    for (const phone of phones)
      await client.messages.create({
        to: `whatsapp:${phone}`,
        from: SIMULATOR_DEFAULT_FROM,
        contentSid: CONTENT_SID,
        contentVariables: JSON.stringify({ 1: 'naive' }),
      });
    const naiveMs = performance.now() - naiveStarted;
    await warmUp(bench, { counter, timeoutMs: 90_000, say, recipients: WARM_UP_RECIPIENTS_AT_FULL_SPEED });

    say(`ours: POST /v1/broadcasts with the same ${recipients} recipients, until every one is sent`);
    const samples: Sample[] = [sampleLoad(counter)];
    const sampler = setInterval(() => samples.push(sampleLoad(counter)), 500);
    const oursStarted = performance.now();
    let broadcastId: string;
    let oursAcceptedMs: number | null = null;
    // Polled by count, not by a copy of every message (3,500 by now: ~30 ms of the twin's event loop each).
    const before = simulator.messageCount();
    try {
      ({ broadcastId } = await bench.createBroadcast(phones, 'bench naive comparison'));
      const accepted = waitFor(() => (simulator.messageCount() - before >= recipients ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 100,
        message: 'the provider did not accept every message',
      }).then(
        () => {
          oursAcceptedMs = performance.now() - oursStarted;
        },
        () => undefined,
      );
      await bench.untilProgress(broadcastId, allProcessed(recipients), {
        timeoutMs: 120_000,
        intervalMs: 100,
        message: 'our broadcast did not reach sent for everyone within 2 minutes',
      });
      await accepted;
    } finally {
      clearInterval(sampler);
    }
    const oursMs = performance.now() - oursStarted;
    samples.push(sampleLoad(counter));
    const first = samples[0] as Sample;
    const last = samples.at(-1) as Sample;
    return {
      oursLoad: loadBetween(samples, first.at, last.at),
      recipients,
      simulatorLatencyMs,
      configuredMps,
      sendMaxConcurrency: sendMaxConcurrency(configuredMps),
      naiveMs,
      oursMs,
      naiveSpeedup: naiveMs / oursMs,
      oursAcceptedMs,
      duplicates: duplicatesAmong(messagesOf(simulator.messages(), broadcastId)),
      dynamodbCallsPerRecipient: (last.dynamoCalls - first.dynamoCalls) / recipients,
      dynamodbCallsByTarget: await callsPerRecipient(counter, recipients),
    };
  } finally {
    await bench.stop();
  }
}

// ── 3. Accepting big lists ─────────────────────────────────────────────────────────────────────

export interface AcceptResult {
  readonly recipients: number;
  readonly requestBytes: number;
  readonly acceptMs: number;
  /** Until every chunk was expanded and its send tasks enqueued (the fan-out's chunk counter). */
  readonly fullyQueuedMs: number | null;
  /** Until GET /v1/broadcasts/{id} stopped saying `accepted` (the first send marks it running). */
  readonly leftAcceptedMs: number | null;
  readonly chunks: number;
  /** Messages already sent when fan-out finished: the send consumer competed for DynamoDB Local. */
  readonly sentDuringFanOut: number;
}

/**
 * `fanOutDeadlineMs` 0: measure the 202 only and stop (the 10k list: its fan-out would only cost
 * the run's time budget; the 100k one shows the fan-out).
 */
export function accept(recipients: number, fanOutDeadlineMs: number) {
  return async (say: Say): Promise<AcceptResult> => {
    // The product's defaults: the send consumer runs alongside the fan-out, as it would.
    const bench = await startBenchTwin({});
    const db = new DynamoDBClient({
      endpoint: bench.twin.dynamodbEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const doc = DynamoDBDocumentClient.from(db);
      const table = bench.twin.tableNames.main ?? '';
      const broadcasts = new DynamoBroadcasts(doc, table);
      const phones = ordinaryPhones(recipients);
      const posted = performance.now();
      const {
        broadcastId,
        ms: acceptMs,
        bodyBytes,
      } = await bench.createBroadcast(phones, `bench accept ${recipients}`);
      say(`${recipients} recipients: 202 after ${Math.round(acceptMs)} ms`);
      let leftAcceptedMs: number | null = null;
      let fullyQueuedMs: number | null = null;
      let chunks = 0;
      if (fanOutDeadlineMs > 0)
        try {
          await waitFor(
            async () => {
              const [broadcast, fanOut] = await Promise.all([
                broadcasts.get(TENANT, broadcastId),
                doc.send(new GetCommand({ TableName: table, Key: fanOutCountsKey(broadcastId) })),
              ]);
              if (!broadcast) return false;
              chunks = broadcast.chunkCount;
              const elapsed = performance.now() - posted;
              if (leftAcceptedMs === null && broadcast.status !== 'accepted') leftAcceptedMs = elapsed;
              if (Number(fanOut.Item?.chunksEnqueued ?? 0) < broadcast.chunkCount) return false;
              fullyQueuedMs = elapsed;
              return true;
            },
            {
              timeoutMs: fanOutDeadlineMs,
              intervalMs: 200,
              message: `fan-out of ${recipients} did not finish in time`,
            },
          );
        } catch (error) {
          say((error as Error).message);
        }
      const sentDuringFanOut = bench.simulator.messageCount();
      return {
        recipients,
        requestBytes: bodyBytes,
        acceptMs,
        fullyQueuedMs,
        leftAcceptedMs,
        chunks,
        sentDuringFanOut,
      };
    } finally {
      db.destroy();
      await bench.stop();
    }
  };
}

// ── 4. Requests, units and dollars per recipient ─────────────────────────────────────────────

export interface CostResult extends CostReport {
  readonly recipients: number;
  readonly configuredMps: number;
  readonly simulatorLatencyMs: number;
  readonly logLevel: string;
  readonly firingsPerRecipientPerRule: number;
  readonly functionMs: Record<
    string,
    { invocations: number; meanMs: number; memoryMb: number; peakConcurrency: number }
  >;
  readonly excludedCallers: readonly string[];
  readonly excludedQueryInvocations: number;
  /** The status webhook's invocations one at a time: what its modelled billed duration is from. */
  readonly statusWebhookAlone: StatusWebhookAlone;
  readonly wallS: number;
}

export interface StatusWebhookAlone {
  /** Invocations measured (after `warmUpInvocations` not measured). */
  readonly invocations: number;
  readonly warmUpInvocations: number;
  /** Mean duration of an invocation, in a process of its own (bench/lambda-environment.ts). */
  readonly meanMs: number;
  /** Mean CPU of that process while one ran: the invocation's own. */
  readonly meanCpuMs: number;
  readonly memoryMb: number;
  /** billedMsAlone(meanMs, meanCpuMs, memoryMb): what the cost prices each of its invocations at. */
  readonly billedMs: number;
  readonly method: string;
}

/** Callbacks in the one-at-a-time sample of the status webhook, after as many to warm it up. */
const ALONE_SAMPLE = 200;
const ALONE_WARM_UP = 200;

/**
 * The status webhook as a Lambda environment runs it: in a process of its own behind its own Function
 * URL (bench/lambda-environment.ts), one invocation at a time, against the twin's DynamoDB Local.
 * `ALONE_WARM_UP + ALONE_SAMPLE` recipients are sent (numbers the simulator leaves at `sent`), then a
 * signed `delivered` callback for each is POSTed there, one after the other, each a real status
 * move; the first `ALONE_WARM_UP` warm the process up (V8 compiles its hot code as a long-lived
 * environment's would be) and are not measured. Not counted in the run's requests.
 */
async function statusWebhookAlone(
  bench: Awaited<ReturnType<typeof startBenchTwin>>,
  memoryMb: number,
  say: Say,
): Promise<StatusWebhookAlone> {
  const total = ALONE_WARM_UP + ALONE_SAMPLE;
  const { broadcastId } = await bench.createBroadcast(phonesEndingIn('0009', total), 'bench webhook alone');
  await bench.untilProgress(broadcastId, (p) => p.counts?.sent === total, {
    timeoutMs: 120_000,
    intervalMs: 500,
    message: 'the sample for the status webhook alone was not sent within 2 minutes',
  });
  say(`posting ${total} signed callbacks one at a time to the status webhook in a process of its own`);
  const environment = await startLambdaEnvironment(STATUS_WEBHOOK);
  let times: InvocationTime[];
  try {
    for (const message of messagesOf(bench.simulator.messages(), broadcastId)) {
      // The same path and query (broadcast, index, attempt, tenant), at this environment's Function URL.
      const callback = new URL(message.statusCallback ?? '');
      const url = `${environment.url}${callback.pathname}${callback.search}`;
      const status = await postStatusCallback(
        bench.simulator.authToken,
        { ...message, statusCallback: url },
        'delivered',
      );
      if (status !== 200) throw new Error(`a status callback of the sample was answered ${status}`);
    }
    times = await environment.report();
  } finally {
    await environment.stop();
  }
  if (times.length !== total)
    throw new Error(`the status webhook ran ${times.length} times for ${total} callbacks`);
  const measured = times.slice(ALONE_WARM_UP);
  const meanMs = measured.reduce((sum, t) => sum + t.ms, 0) / measured.length;
  const meanCpuMs = measured.reduce((sum, t) => sum + t.cpuMs, 0) / measured.length;
  return {
    invocations: measured.length,
    warmUpInvocations: ALONE_WARM_UP,
    meanMs,
    meanCpuMs,
    memoryMb,
    billedMs: billedMsAlone(meanMs, meanCpuMs, memoryMb),
    method: `${total} signed delivered callbacks POSTed one at a time after the measured broadcast to the status webhook in a process of its own (bench/lambda-environment.ts), the first ${ALONE_WARM_UP} to warm it up; each measured invocation's duration and that process's CPU meanwhile, its CPU stretched to ${memoryMb} MB's share of a vCPU (${LAMBDA_MB_PER_VCPU} MB = 1 vCPU)`,
  };
}

/** The functions EventBridge rules invoke: per firing, not per recipient (cost.ts amortizes them). */
const SCHEDULED = [...new Set(topology.schedules.map((s) => s.function as string))];

export async function cost(say: Say): Promise<CostResult> {
  const recipients = 1000;
  // The product's default sender limit, the rate a deployment sends at.
  const configuredMps = 80;
  // Twilio's create answers in a few hundred ms: the send Lambda's billed time includes that wait.
  const simulatorLatencyMs = 200;
  // The deployed log level (lib/stack.ts logLevel default): what CloudWatch Logs would ingest.
  const logLevel = 'WARN';
  const counter = new AwsRequestCounter();
  counter.countLogs(process.stdout);
  counter.countLogs(process.stderr);
  const bench = await startBenchTwin(
    {
      SENDER_MPS: String(configuredMps),
      SIM_MPS: String(configuredMps),
      SIM_LATENCY_MS: String(simulatorLatencyMs),
      POWERTOOLS_LOG_LEVEL: logLevel,
    },
    { counter },
  );
  try {
    counter.reset();
    const started = Date.now();
    const { broadcastId, bodyBytes } = await bench.createBroadcast(ordinaryPhones(recipients), 'bench cost');
    say(`${recipients} recipients accepted; waiting until every one is read (3 status callbacks each)`);
    // One firing of each scheduled rule while the broadcast is in flight (the sweeper then has an
    // active broadcast to settle), counted per firing.
    await waitFor(() => (bench.simulator.messageCount() >= recipients / 2 ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 200,
      message: 'half the recipients were not sent within 2 minutes',
    });
    for (const schedule of topology.schedules) await bench.twin.runSchedule(schedule.id);
    await bench.untilProgress(broadcastId, (p) => p.counts?.read === recipients && p.status === 'completed', {
      timeoutMs: 240_000,
      intervalMs: 1000,
      message: 'not every recipient was read within 4 minutes',
    });
    const wallS = (Date.now() - started) / 1000;
    const counts = await counter.snapshot();
    const memoryMb = Object.fromEntries(
      Object.entries(topology.functions).map(([id, fn]) => [id, fn.memoryMb]),
    );
    const alone = await statusWebhookAlone(bench, memoryMb[STATUS_WEBHOOK] ?? 128, say);

    // A sender at its limit gets through configuredMps × 60 recipients between two firings.
    const firingsPerRecipientPerRule =
      1 / (configuredMps * Math.min(...topology.schedules.map((s) => s.everyMinutes * 60)));
    const report = costReport({
      recipients,
      counts,
      scheduledFunctions: SCHEDULED,
      firingsPerRecipientPerRule,
      excludedCallers: BENCH_POLLING,
      memoryMb,
      modelledBilledMs: { [STATUS_WEBHOOK]: alone.billedMs },
      extraApiRequests: Math.ceil(bodyBytes / PRICES.apiGatewayHttp.incrementBytes) - 1,
      platformLogBytesPerInvocation: 0,
      tracesPerInvocation: 0,
      prices: PRICES,
    });
    const functionMs: CostResult['functionMs'] = {};
    for (const [fn, count] of Object.entries(counts.functions))
      functionMs[fn] = {
        invocations: count.invocations,
        meanMs: count.totalMs / Math.max(1, count.invocations),
        memoryMb: memoryMb[fn] ?? 0,
        peakConcurrency: count.peakConcurrency,
      };
    return {
      ...report,
      recipients,
      configuredMps,
      simulatorLatencyMs,
      logLevel,
      firingsPerRecipientPerRule,
      functionMs,
      excludedCallers: BENCH_POLLING,
      excludedQueryInvocations: counts.functions.queryBroadcasts?.invocations ?? 0,
      statusWebhookAlone: alone,
      wallS,
    };
  } finally {
    await bench.stop();
  }
}

// ── 5. Status callbacks absorbed ───────────────────────────────────────────────────────────────

export interface CallbacksResult {
  readonly callbacks: number;
  readonly concurrency: number;
  readonly wallMs: number;
  readonly callbacksPerSecond: number;
  readonly method: string;
  readonly non200: number;
  /** Every callback moved its recipient (delivered, then read): checked afterwards. */
  readonly allMoved: boolean;
  readonly load: Load | null;
}

export async function callbacks(say: Say): Promise<CallbacksResult> {
  const recipients = 1500;
  const concurrency = 16;
  const counter = new AwsRequestCounter({ consumedCapacity: false });
  const bench = await startBenchTwin(
    { SENDER_MPS: '1000', SIM_MPS: '1000', SIM_LATENCY_MS: '20' },
    { counter },
  );
  try {
    // Numbers ending in 0009 are sent and then left alone by the simulator: their delivered and
    // read callbacks are ours to post, each one a real status move.
    const { broadcastId } = await bench.createBroadcast(
      phonesEndingIn('0009', recipients),
      'bench callbacks',
    );
    say(`sending ${recipients} messages the simulator will never report delivered`);
    await bench.untilProgress(broadcastId, (p) => p.counts?.sent === recipients, {
      timeoutMs: 180_000,
      intervalMs: 500,
      message: 'not every recipient reached sent within 3 minutes',
    });
    const messages = messagesOf(bench.simulator.messages(), broadcastId);
    const token = bench.simulator.authToken;
    let non200 = 0;
    const post = async (message: SimulatedMessage, status: 'delivered' | 'read') => {
      if ((await postStatusCallback(token, message, status)) !== 200) non200++;
    };
    say(`posting ${messages.length * 2} signed callbacks, ${concurrency} at a time`);
    const before = sampleLoad(counter);
    const started = performance.now();
    // All delivered first, then all read: each callback is a move, none a no-op duplicate.
    for (const status of ['delivered', 'read'] as const)
      await inParallel(messages, concurrency, (m) => post(m, status));
    const wallMs = performance.now() - started;
    const after = sampleLoad(counter);
    const progress: Json = await bench
      .untilProgress(broadcastId, (p) => p.counts?.read === recipients, {
        timeoutMs: 30_000,
        intervalMs: 500,
        message: 'the counts did not show every recipient read within 30 s',
      })
      .catch(async () => (await bench.api('GET', `/v1/broadcasts/${broadcastId}/progress`)).body);
    return {
      callbacks: messages.length * 2,
      concurrency,
      wallMs,
      callbacksPerSecond: (messages.length * 2) / (wallMs / 1000),
      method: `signed delivered then read callbacks for ${messages.length} sent recipients, POSTed to the status callback's Function URL (a local server in the twin), ${concurrency} in flight`,
      non200,
      allMoved: progress.counts?.read === recipients,
      load: loadBetween([before, after], before.at, after.at),
    };
  } finally {
    await bench.stop();
  }
}

async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

export const SCENARIOS = {
  sendRate,
  naive,
  accept10k: accept(10_000, 0),
  accept100k: accept(100_000, 360_000),
  cost,
  callbacks,
} as const satisfies Record<string, (say: Say) => Promise<unknown>>;

export type ScenarioName = keyof typeof SCENARIOS;
