/**
 * `npm run bench`: runs each scenario in its own process (bench/worker.ts) one after the other
 * (the machine has two cores; overlapping runs would measure each other), then prints the table
 * and one JSON line, and for a full run saves bench/results/latest.json and send-rate.svg.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendRateSvg } from './chart.ts';
import { DEFAULT_SEND_RATE_MPS, SEND_RATE_MPS_VARIABLE } from './options.ts';
import { PRICES } from './prices.ts';
import { type Figures, figuresOf, humanReport, roundDeep, type ScenarioResults } from './report.ts';
import type { ScenarioName } from './scenarios.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.join(HERE, 'results');

const sendRateMps = () => Number(process.env[SEND_RATE_MPS_VARIABLE] || DEFAULT_SEND_RATE_MPS);

/** In run order; each deadline is the scenario's own plus twin start and stop. */
export const PLAN: readonly { name: ScenarioName; title: string; deadlineMs: number }[] = [
  {
    name: 'sendRate',
    title: `send rate at the limit, callbacks live: 2,000 recipients, SENDER_MPS ${sendRateMps()}, SIM_MPS ${sendRateMps()}`,
    deadlineMs: 330_000,
  },
  { name: 'naive', title: 'naive loop vs ours: 1,000 recipients, 100 ms per create', deadlineMs: 360_000 },
  { name: 'accept10k', title: 'accept 10,000 recipients', deadlineMs: 180_000 },
  { name: 'accept100k', title: 'accept 100,000 recipients and fan them out', deadlineMs: 420_000 },
  {
    name: 'cost',
    title:
      'requests, units and cost as AWS bills them: 1,000 recipients at SENDER_MPS 80, sent, delivered, read',
    deadlineMs: 360_000,
  },
  { name: 'callbacks', title: 'status callbacks absorbed: 3,000 signed callbacks', deadlineMs: 240_000 },
];

export interface BenchOptions {
  /** Only the JSON line on stdout. */
  readonly json: boolean;
  /** Run only these (nothing is saved then: a partial run is not "the last result"). */
  readonly only?: readonly ScenarioName[];
}

export async function runBench(options: BenchOptions): Promise<number> {
  const say = (text: string) => {
    if (!options.json) process.stderr.write(`${text}\n`);
  };
  const plan = options.only ? PLAN.filter((p) => options.only?.includes(p.name)) : PLAN;
  const results: ScenarioResults = {};
  const errors: Record<string, string> = {};
  const elapsedS: Record<string, number> = {};
  const started = Date.now();
  // The box is shared (2 cores, other developers' tests): its load says how far to trust a figure.
  const loadAtStart = os.loadavg();
  for (const step of plan) {
    if (interrupted) break;
    say(`▶ ${step.name}: ${step.title}`);
    const stepStarted = Date.now();
    try {
      // biome-ignore lint/suspicious/noExplicitAny: each scenario answers its own result shape.
      (results as Record<string, any>)[step.name] = await runWorker(step.name, step.deadlineMs, (text) =>
        say(`  ${text}`),
      );
    } catch (error) {
      errors[step.name] = interrupted
        ? 'interrupted'
        : error instanceof Error
          ? error.message
          : String(error);
      say(`  ${interrupted ? 'interrupted' : `FAILED: ${errors[step.name]}`}`);
    }
    elapsedS[step.name] = Math.round((Date.now() - stepStarted) / 100) / 10;
    say(`  ${step.name} took ${elapsedS[step.name]} s`);
  }
  const totalS = Math.round((Date.now() - started) / 100) / 10;
  const date = new Date().toISOString();
  const figures: Figures = figuresOf(results);
  const loadAverage = { start: loadAtStart, end: os.loadavg() };
  const line = roundDeep({
    bench: 'whatsapp-broadcast',
    date,
    loadAverage,
    ...figures,
    elapsedS: { ...elapsedS, total: totalS },
    ...(Object.keys(errors).length > 0 ? { errors } : {}),
    details: detailsForLine(results),
  });
  if (!options.json)
    process.stdout.write(`${humanReport(figures, results, { elapsedS, totalS, loadAverage })}\n`);
  process.stdout.write(`${JSON.stringify(line)}\n`);
  // A partial run is not "the last result".
  if (!options.only && !interrupted) saveResults(line, results, date);
  if (interrupted) return 130;
  return Object.keys(errors).length > 0 ? 1 : 0;
}

/** Set by Ctrl-C: the running scenario is told to stop (its twin first), the rest are skipped. */
let interrupted = false;

/** The details worth a line; the per-second series go to latest.json and the chart only. */
function detailsForLine(results: ScenarioResults): Record<string, unknown> {
  const { sendRate, ...rest } = results;
  if (!sendRate) return rest;
  const { acceptedPerSecond: _a, rejectedPerSecond: _r, callbacksPerSecondSeries: _c, ...summary } = sendRate;
  return { sendRate: summary, ...rest };
}

function saveResults(line: Record<string, unknown>, results: ScenarioResults, date: string): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const cpus = os.cpus();
  const sendRate = results.sendRate;
  const latest = {
    ...line,
    machine: {
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      memoryGb: Math.round(os.totalmem() / 1024 ** 3),
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      dataDir:
        sendRate?.storage === 'tmpfs'
          ? 'tmpfs (/dev/shm): DynamoDB Local, fauxqs and the simulator in memory'
          : 'disk',
    },
    settings: settingsOf(results),
    ...(sendRate
      ? {
          sendRateSeries: {
            acceptedPerSecond: sendRate.acceptedPerSecond,
            rejectedPerSecond: sendRate.rejectedPerSecond,
            callbacksPerSecond: sendRate.callbacksPerSecondSeries,
          },
        }
      : {}),
  };
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), `${compactJson(roundDeep(latest))}\n`);
  if (sendRate)
    writeFileSync(
      path.join(RESULTS_DIR, 'send-rate.svg'),
      sendRateSvg({
        title: `Send rate per second, one sender, ${date.slice(0, 10)}`,
        subtitle: `${sendRate.recipients.toLocaleString('en-US')} recipients · SENDER_MPS ${sendRate.configuredMps} · simulator ${sendRate.simulatorMps}/s, ${sendRate.simulatorLatencyMs} ms · ${cpus.length} cores · local twin`,
        acceptedPerSecond: sendRate.acceptedPerSecond,
        rejectedPerSecond: sendRate.rejectedPerSecond,
        limit: sendRate.configuredMps,
        steady: { fromS: sendRate.steadyFromS, toS: sendRate.steadyToS, rate: sendRate.sendRateMps },
      }),
    );
}

/** Each scenario's settings, as it ran. */
function settingsOf(r: ScenarioResults): Record<string, unknown> {
  return {
    ...(r.sendRate && {
      sendRate: {
        recipients: r.sendRate.recipients,
        SENDER_MPS: r.sendRate.configuredMps,
        SIM_MPS: r.sendRate.simulatorMps,
        SIM_LATENCY_MS: r.sendRate.simulatorLatencyMs,
        SIM_CALLBACK_DELAY_MS: r.sendRate.simulatorCallbackDelayMs,
        callbacksLive: r.sendRate.callbacksLive,
      },
    }),
    ...(r.naive && {
      naive: {
        recipients: r.naive.recipients,
        SENDER_MPS: r.naive.configuredMps,
        SIM_MPS: r.naive.configuredMps,
        SIM_LATENCY_MS: r.naive.simulatorLatencyMs,
      },
    }),
    accept:
      'product defaults: SENDER_MPS 80, SIM_MPS 80, SIM_LATENCY_MS 20; the send consumer runs during the fan-out',
    ...(r.cost && {
      cost: {
        recipients: r.cost.recipients,
        SENDER_MPS: r.cost.configuredMps,
        SIM_MPS: r.cost.configuredMps,
        SIM_LATENCY_MS: r.cost.simulatorLatencyMs,
        POWERTOOLS_LOG_LEVEL: r.cost.logLevel,
      },
    }),
    ...(r.callbacks && {
      callbacks: { callbacks: r.callbacks.callbacks, concurrency: r.callbacks.concurrency },
    }),
    prices: PRICES,
  };
}

/** Two-space JSON with arrays of numbers on one line: small diffs in git. */
function compactJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /\[\s+([-\d.,\s]+?)\s+\]/g,
    (_, inner: string) => `[${inner.replace(/\s+/g, '')}]`,
  );
}

function runWorker(
  name: ScenarioName,
  deadlineMs: number,
  onProgress: (text: string) => void,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(HERE, 'worker.ts'), [name], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderrTail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-3000);
    });
    let settled: { result: unknown } | { error: string } | undefined;
    child.on('message', (message: { kind: string; text?: string; result?: unknown; error?: string }) => {
      if (message.kind === 'progress' && message.text) onProgress(message.text);
      else if (message.kind === 'result') settled = { result: message.result };
      else if (message.kind === 'failure') settled = { error: message.error ?? 'failed' };
    });
    let killer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      settled ??= { error: `no result within ${deadlineMs / 1000} s` };
      child.kill('SIGTERM');
      // It stops its twin first; if that hangs, it goes anyway.
      killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    }, deadlineMs);
    const forward = () => {
      interrupted = true;
      child.kill('SIGINT');
    };
    process.once('SIGINT', forward);
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      clearTimeout(killer);
      process.off('SIGINT', forward);
      if (settled && 'result' in settled) resolve(settled.result);
      else
        reject(
          new Error(
            `${settled?.error ?? `worker exited (${signal ?? code}) without a result`}${stderrTail ? `\n--- worker stderr (tail) ---\n${stderrTail}` : ''}`,
          ),
        );
    });
  });
}
