/**
 * The bench's figures (named as the README and the JSON line name them) and the human report.
 */
import os from 'node:os';
import { LAMBDA_MB_PER_VCPU } from './cost.ts';
import { PRICES } from './prices.ts';
import type {
  AcceptResult,
  CallbacksResult,
  CostResult,
  Load,
  NaiveResult,
  SendRateResult,
} from './scenarios.ts';

export interface ScenarioResults {
  sendRate?: SendRateResult;
  naive?: NaiveResult;
  accept10k?: AcceptResult;
  accept100k?: AcceptResult;
  cost?: CostResult;
  callbacks?: CallbacksResult;
}

/** The headline figures; null when their scenario failed or did not run. */
export interface Figures {
  readonly sendRateRatio: number | null;
  readonly sendRateMps: number | null;
  readonly configuredMps: number | null;
  /** The simulator's status callbacks reached the ledger during the send-rate window. */
  readonly callbacksLive: boolean | null;
  readonly provider429: number | null;
  /** Recipients that got more than one message, in the send-rate and naive-comparison broadcasts. */
  readonly duplicates: number | null;
  readonly naiveSpeedup: number | null;
  readonly naiveMs: number | null;
  readonly oursMs: number | null;
  readonly accept10kMs: number | null;
  readonly accept100kMs: number | null;
  readonly fullyQueued100kMs: number | null;
  readonly costPerMillionUsd: number | null;
  /** Table and index write units, as AWS bills them. */
  readonly dynamodbWriteUnitsPerRecipient: number | null;
  readonly dynamodbReadUnitsPerRecipient: number | null;
  readonly awsRequestsPerRecipient: number | null;
  readonly awsRequestsPerRecipientByService: {
    readonly dynamodb: number;
    readonly sqs: number;
    readonly lambda: number;
    readonly apiGateway: number;
  } | null;
  readonly callbacksPerSecond: number | null;
}

export function figuresOf(r: ScenarioResults): Figures {
  const c = r.cost;
  const duplicates = [r.sendRate?.duplicates, r.naive?.duplicates].filter((d) => d !== undefined);
  return {
    sendRateRatio: r.sendRate?.sendRateRatio ?? null,
    sendRateMps: r.sendRate?.sendRateMps ?? null,
    configuredMps: r.sendRate?.configuredMps ?? null,
    callbacksLive: r.sendRate?.callbacksLive ?? null,
    provider429: r.sendRate?.provider429 ?? null,
    duplicates: duplicates.length > 0 ? duplicates.reduce((a, b) => a + b, 0) : null,
    naiveSpeedup: r.naive?.naiveSpeedup ?? null,
    naiveMs: r.naive?.naiveMs ?? null,
    oursMs: r.naive?.oursMs ?? null,
    accept10kMs: r.accept10k?.acceptMs ?? null,
    accept100kMs: r.accept100k?.acceptMs ?? null,
    fullyQueued100kMs: r.accept100k?.fullyQueuedMs ?? null,
    costPerMillionUsd: c?.costPerMillionUsd.total ?? null,
    dynamodbWriteUnitsPerRecipient: c ? c.usage.writeUnits + c.usage.indexWriteUnits : null,
    dynamodbReadUnitsPerRecipient: c?.usage.readUnits ?? null,
    awsRequestsPerRecipient: c?.requestsPerRecipient.total ?? null,
    awsRequestsPerRecipientByService: c
      ? {
          dynamodb: c.requestsPerRecipient.dynamodb,
          sqs: c.requestsPerRecipient.sqs,
          lambda: c.requestsPerRecipient.lambda,
          apiGateway: c.requestsPerRecipient.apiGateway,
        }
      : null,
    callbacksPerSecond: r.callbacks?.callbacksPerSecond ?? null,
  };
}

/** Numbers to 2 decimals, or 3 significant digits below 1 (whole ones left whole): stable and short. */
export function roundDeep<T>(value: T): T {
  if (typeof value === 'number')
    return (
      Number.isInteger(value)
        ? value
        : Math.abs(value) >= 1
          ? Number(value.toFixed(2))
          : Number(value.toPrecision(3))
    ) as T;
  if (Array.isArray(value)) return value.map((v) => roundDeep(v)) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v)])) as T;
  return value;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits: number) => n.toFixed(digits);
const usd = (n: number) => `$${n.toFixed(n < 0.1 ? 4 : 2)}`;
const per = (n: number) => (n >= 0.01 ? n.toFixed(2) : n.toPrecision(2));
/** What the box was busy with: the evidence for what bounded a rate. */
function loadText(load: Load | null): string {
  if (!load) return 'load not sampled';
  const java = load.dynamodbLocalCores === null ? 'unknown' : fixed(load.dynamodbLocalCores, 2);
  return `meanwhile DynamoDB Local served ${int(load.dynamodbCallsPerSecond)} calls/s on ${java} cores, Node (handlers, SQS emulator, simulator) used ${fixed(load.nodeCores, 2)} cores, ${fixed(load.callbacksPerSecond, 1)} status callbacks/s, send invocations running ${fixed(load.sendInvocationsRunning.mean, 1)} on average (at most ${load.sendInvocationsRunning.max})`;
}

/** The heaviest DynamoDB targets per recipient, with their refusals: `UpdateItem recipient 4.0`. */
function callsText(byTarget: Record<string, { calls: number; failed: number }>): string {
  return Object.entries(byTarget)
    .filter(([, c]) => c.calls >= 0.01)
    .map(([target, c]) => `${target} ${per(c.calls)}${c.failed >= 0.01 ? ` (${per(c.failed)} refused)` : ''}`)
    .join(' · ');
}

const costLine = (label: string, detail: string, amount: number) =>
  `  ${label.padEnd(17)}${detail.padEnd(50)}${usd(amount).padStart(9)}`;
const listOf = (record: Record<string, number>, format: (n: number) => string = per) =>
  Object.entries(record)
    .filter(([, n]) => n > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([key, n]) => `${key} ${format(n)}`)
    .join(' · ');

export function humanReport(
  figures: Figures,
  r: ScenarioResults,
  elapsed: {
    elapsedS: Record<string, number>;
    totalS: number;
    /** os.loadavg() (1, 5, 15 minutes) when the run began and ended. */
    loadAverage?: { start: number[]; end: number[] };
  },
): string {
  const cpus = os.cpus();
  const rows: [string, string, string][] = [];
  // No value: the scenario was left out (--only) or failed (its error is printed above the report).
  const row = (name: string, value: string | null, note: string) =>
    rows.push([name, value ?? 'n/a', value === null && !note ? 'not measured in this run' : note]);
  const s = r.sendRate;
  row(
    'sendRateRatio',
    figures.sendRateRatio === null ? null : fixed(figures.sendRateRatio, 3),
    s
      ? `${fixed(s.sendRateMps, 1)}/s of ${s.configuredMps}/s configured over the middle 80 % of acceptances (10th to 90th percentile, ${fixed(s.steadyFromS, 0)}-${fixed(s.steadyToS, 0)} s), median ${s.medianPerSecond}/s; ${int(s.recipients)} recipients, send consumer max concurrency ${s.sendMaxConcurrency}; ${int(s.missedSendSlots)} slots missed while the sender was busy (${fixed((100 * s.missedSendSlots) / Math.max(1, s.accepted), 1)} % of sends: a send too late for its slot books another); ${loadText(s.load)}${s.completed ? '' : ` · INCOMPLETE: ${s.accepted} of ${s.recipients} sent`}`
      : '',
  );
  row(
    'callbacksLive',
    s ? String(s.callbacksLive) : null,
    s
      ? `the simulator posted sent, delivered and read ${s.simulatorCallbackDelayMs} ms apart during the send: ${fixed(s.load?.callbacksPerSecond ?? 0, 1)} callbacks/s applied over the steady window`
      : '',
  );
  row(
    'provider429',
    s ? int(s.provider429) : null,
    s ? `429 answers from the simulator (SIM_MPS ${s.simulatorMps})` : '',
  );
  row(
    'duplicates',
    figures.duplicates === null ? null : int(figures.duplicates),
    'recipients that got more than one message (the send-rate and the naive-comparison broadcasts)',
  );
  const n = r.naive;
  row(
    'naiveSpeedup',
    n ? `${fixed(n.naiveSpeedup, 1)}×` : null,
    n
      ? `naive loop ${fixed(n.naiveMs / 1000, 1)} s vs ours ${fixed(n.oursMs / 1000, 1)} s (${int(n.recipients)} recipients, ${n.simulatorLatencyMs} ms per create, until the progress counts every one sent${n.oursAcceptedMs != null ? `; Twilio had accepted every message at ${fixed(n.oursAcceptedMs / 1000, 1)} s, ${fixed(n.naiveMs / n.oursAcceptedMs, 1)}×` : ''}; ours at SENDER_MPS ${n.configuredMps}, send consumer max concurrency ${n.sendMaxConcurrency}) = ${fixed(n.recipients / (n.oursMs / 1000), 1)} recipients/s, ${fixed(n.dynamodbCallsPerRecipient, 1)} DynamoDB calls per recipient; ${loadText(n.oursLoad)}`
      : '',
  );
  const a10 = r.accept10k;
  const a100 = r.accept100k;
  row(
    'accept10kMs',
    a10 ? int(a10.acceptMs) : null,
    a10 ? `time to the 202 (${fixed(a10.requestBytes / 1e6, 2)} MB body)` : '',
  );
  row(
    'accept100kMs',
    a100 ? int(a100.acceptMs) : null,
    a100 ? `time to the 202 (${fixed(a100.requestBytes / 1e6, 2)} MB body)` : '',
  );
  row(
    'fullyQueued100kMs',
    a100?.fullyQueuedMs != null ? int(a100.fullyQueuedMs) : null,
    a100
      ? `POST until all ${a100.chunks} chunks were expanded and enqueued; ${int(a100.sentDuringFanOut)} messages were sent meanwhile (the send consumer shares DynamoDB Local)${a100.leftAcceptedMs != null ? `; status left 'accepted' at ${int(a100.leftAcceptedMs)} ms (first send)` : ''}`
      : '',
  );
  const c = r.cost;
  row(
    'costPerMillionUsd',
    c ? usd(c.costPerMillionUsd.total) : null,
    c
      ? `AWS only, counted as AWS bills (below), us-east-1 on-demand list prices; ${int(c.recipients)} recipients at SENDER_MPS ${c.configuredMps}, each sent, delivered and read; Twilio and Meta fees not included`
      : '',
  );
  row(
    'dynamodbWriteUnitsPerRecipient',
    figures.dynamodbWriteUnitsPerRecipient === null ? null : fixed(figures.dynamodbWriteUnitsPerRecipient, 2),
    c ? `table ${per(c.usage.writeUnits)} + global secondary indexes ${per(c.usage.indexWriteUnits)}` : '',
  );
  row(
    'dynamodbReadUnitsPerRecipient',
    figures.dynamodbReadUnitsPerRecipient === null ? null : fixed(figures.dynamodbReadUnitsPerRecipient, 2),
    c
      ? `DynamoDB Local reported ${per(c.usage.reportedUnits)} units (reads and writes) for the same requests`
      : '',
  );
  row(
    'awsRequestsPerRecipient',
    c ? fixed(c.requestsPerRecipient.total, 2) : null,
    c
      ? `DynamoDB ${per(c.requestsPerRecipient.dynamodb)} · SQS ${per(c.requestsPerRecipient.sqs)} · Lambda ${per(c.requestsPerRecipient.lambda)} (of which ${per(c.usage.functionUrlRequests)} through the status callback's Function URL) · API Gateway ${per(c.requestsPerRecipient.apiGateway)}`
      : '',
  );
  const cb = r.callbacks;
  row(
    'callbacksPerSecond',
    cb ? int(cb.callbacksPerSecond) : null,
    cb
      ? `${cb.method}; ${cb.non200} not 200${cb.allMoved ? '' : '; NOT every recipient moved'}; ${loadText(cb.load)}`
      : '',
  );

  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = [
    `WhatsApp broadcast bench · ${new Date().toISOString().slice(0, 10)} · ${cpus[0]?.model ?? 'cpu'} × ${cpus.length} · node ${process.version} · DATA_DIR on ${s?.storage ?? 'tmpfs'}`,
    '',
    ...rows.map(
      ([name, value, note]) => `${name.padEnd(widths[0] ?? 0)}  ${value.padStart(widths[1] ?? 0)}  ${note}`,
    ),
  ];
  if (s || n)
    lines.push(
      '',
      'DynamoDB calls per recipient on the twin (what DynamoDB Local must serve; every caller but the bench)',
      ...(s
        ? [`  sendRate  ${fixed(s.dynamodbCallsPerRecipient, 2)}: ${callsText(s.dynamodbCallsByTarget)}`]
        : []),
      ...(n
        ? [`  naive     ${fixed(n.dynamodbCallsPerRecipient, 2)}: ${callsText(n.dynamodbCallsByTarget)}`]
        : []),
    );
  if (c) {
    const u = c.usage;
    const cost = c.costPerMillionUsd;
    const p = PRICES;
    const gbSeconds = Object.values(u.lambdaGbSeconds).reduce((a, b) => a + b, 0);
    lines.push(
      '',
      `Per recipient (${c.recipients} recipients, each sent, delivered and read: 3 status callbacks; the bench's own progress polling, ${c.excludedQueryInvocations} queryBroadcasts calls, left out; the scheduled rules' firings amortized at ${c.configuredMps}/s)`,
      `  DynamoDB calls     ${listOf(u.dynamodbCalls)}`,
      `  DynamoDB units     by item: ${Object.entries(u.unitsByItemKind)
        .filter(([, k]) => k.write + k.read > 0)
        .sort(([, a], [, b]) => b.write + b.read - (a.write + a.read))
        .map(([kind, k]) => `${kind} ${per(k.write)} W / ${per(k.read)} R`)
        .join(' · ')}`,
      `  SQS (billed)       ${listOf(u.sqsRequests)}  (${int(c.emptyReceives)} empty receives while polling: a cost per queue and hour, not per recipient)`,
      `  Lambda             ${listOf(u.lambdaInvocations)}`,
      `  Lambda GB-s        ${listOf(u.lambdaGbSeconds, (x) => x.toPrecision(2))}`,
      `  API Gateway        ${per(u.apiGatewayRequests)}   Function URL ${per(u.functionUrlRequests)}   EventBridge rule firings ${per(u.eventBridgeFirings)}`,
      '',
      `Cost per million recipients (${p.region} on-demand list prices checked ${p.checkedOn}, bench/prices.ts)`,
      costLine(
        'DynamoDB writes',
        `${per(u.writeUnits + u.indexWriteUnits)} WRU × $${p.dynamodb.perMillionWriteUnits}/M`,
        cost.dynamodbWrites,
      ),
      costLine(
        'DynamoDB reads',
        `${per(u.readUnits)} RRU × $${p.dynamodb.perMillionReadUnits}/M (stream reads by Lambda: free)`,
        cost.dynamodbReads,
      ),
      costLine(
        'SQS',
        `${per(c.requestsPerRecipient.sqs)} requests × $${p.sqs.perMillionRequests}/M`,
        cost.sqs,
      ),
      costLine(
        'Lambda requests',
        `${per(c.requestsPerRecipient.lambda)} × $${p.lambda.perMillionRequests}/M`,
        cost.lambdaRequests,
      ),
      costLine(
        'Lambda compute',
        `${per(gbSeconds)} GB-s × $${p.lambda.perGbSecondArm64}/GB-s (arm64; the status webhook at ${c.statusWebhookAlone.billedMs} ms each, below)`,
        cost.lambdaCompute,
      ),
      costLine(
        'API Gateway',
        `${per(u.apiGatewayRequests)} requests × $${p.apiGatewayHttp.perMillionRequests}/M (callbacks: Function URL)`,
        cost.apiGateway,
      ),
      costLine(
        'EventBridge',
        `${per(u.eventBridgeFirings)} scheduled-rule firings (not charged)`,
        cost.eventBridge,
      ),
      costLine(
        'CloudWatch Logs',
        `${int(u.logBytes)} bytes at ${c.logLevel} × $${p.cloudWatchLogs.perGbIngested}/GB`,
        cost.cloudWatchLogs,
      ),
      costLine('X-Ray', `${per(u.xrayTraces)} traces (tracing off by default)`, cost.xray),
      costLine('total', '', cost.total),
      '',
      `The status webhook as Lambda runs it, in a process of its own (bench/lambda-environment.ts): ${c.statusWebhookAlone.invocations} callbacks one at a time after ${c.statusWebhookAlone.warmUpInvocations} to warm it up, ${fixed(c.statusWebhookAlone.meanMs, 1)} ms wall and ${fixed(c.statusWebhookAlone.meanCpuMs, 1)} ms CPU each; the CPU stretched ×${fixed(LAMBDA_MB_PER_VCPU / c.statusWebhookAlone.memoryMb, 2)} to ${c.statusWebhookAlone.memoryMb} MB's share of a vCPU: ${c.statusWebhookAlone.billedMs} ms billed (bench/cost.ts billedMsAlone). Lambda compute at the durations measured here instead: $${fixed(c.lambdaComputeMeasuredUsd, 2)}.`,
      `Lambda durations measured here (they set the other functions' GB-s; sharing 2 cores with DynamoDB Local makes them longer than on AWS): ${Object.entries(
        c.functionMs,
      )
        .filter(([fn]) => !c.excludedCallers.includes(fn))
        .map(
          ([fn, f]) =>
            `${fn} ${f.invocations}× ${int(f.meanMs)} ms @${f.memoryMb} MB (≤${f.peakConcurrency} at once)`,
        )
        .join(' · ')}`,
    );
  }
  lines.push(
    '',
    `Elapsed: ${Object.entries(elapsed.elapsedS)
      .map(([name, seconds]) => `${name} ${seconds} s`)
      .join(' · ')} · total ${elapsed.totalS} s${
      elapsed.loadAverage
        ? ` · load average (1/5/15 min) ${elapsed.loadAverage.start.map((x) => x.toFixed(2)).join('/')} at the start, ${elapsed.loadAverage.end.map((x) => x.toFixed(2)).join('/')} at the end`
        : ''
    }`,
  );
  return lines.join('\n');
}
