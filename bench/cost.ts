/**
 * From counted requests to requests and dollars per recipient. Pure arithmetic: the counting is
 * bench/counting.ts (DynamoDB units as AWS bills them: bench/dynamo-units.ts), the prices
 * bench/prices.ts. What each unit is, and why:
 *
 * - DynamoDB: the write and read units the meter computed from the items themselves (1 KB writes, the
 *   larger of before and after; ×2 per transactional item; failed conditions and cancelled
 *   transactions included; every global secondary index write; 4 KB reads, halved when eventually
 *   consistent; a Query on everything it read). The stream the aggregator reads is free (a Lambda
 *   event source); the aggregator's own invocations and writes are counted like any function's.
 * - SQS: requests in 64 KB payload chunks (sends, the event source's receives and deletes, re-queues).
 *   Empty receives are a cost of polling over time (a few pollers per queue, whether or not anything
 *   is sent; here they wait 1 s where Lambda's wait 20 s), not of recipients: shown, not priced.
 * - Lambda: invocations, and GB-seconds from durations × each function's memory (arm64). A duration
 *   measured on the twin counts the turns of every other invocation sharing its one event loop
 *   (dozens of status callbacks at once), which no Lambda environment does: it runs one invocation at a
 *   time, on a CPU share set by its memory. So a function with `modelledBilledMs` (the status webhook,
 *   3 of every recipient's invocations: its duration alone, its CPU stretched to its share, by
 *   `billedMsAlone`) is priced at that; the rest at their measured durations, an upper bound. Both
 *   totals are reported.
 * - API Gateway: the invocations that came through the HTTP API; Function URL invocations (the status
 *   callbacks) cost nothing beyond Lambda's own price.
 * - EventBridge: scheduled rules fire per minute, not per recipient: one measured firing of each rule
 *   while a broadcast is in flight, amortized over the recipients a sender gets through in a minute.
 * - CloudWatch Logs: the bytes the handlers log at the deployed level (WARN: lib/stack.ts logLevel);
 *   at system log level WARN Lambda writes no START/END/REPORT lines, so none are added.
 * - X-Ray: active tracing is off by default (lib/stack.ts `tracing`): no traces, $0.
 */
import { type CountSnapshot, isDynamoRead, type SqsOpCount } from './counting.ts';
import type { PriceList } from './prices.ts';

export interface CostInputs {
  readonly recipients: number;
  /** Counted from the POST to the last status callback, with at least one firing of each rule. */
  readonly counts: CountSnapshot;
  /**
   * The functions scheduled rules invoke (one rule each): their counts are per firing, whatever the
   * run's recipients, and are amortized by `firingsPerRecipientPerRule`.
   */
  readonly scheduledFunctions: readonly string[];
  /** Firings of each rule per recipient on AWS (a sender at its limit, between two firings). */
  readonly firingsPerRecipientPerRule: number;
  /** Callers left out (the bench's own progress polling). */
  readonly excludedCallers: readonly string[];
  readonly memoryMb: Readonly<Record<string, number>>;
  /**
   * Billed ms per invocation for the functions whose duration was modelled as Lambda runs them
   * (`billedMsAlone`), in place of their measured durations.
   */
  readonly modelledBilledMs?: Readonly<Record<string, number>>;
  /** API Gateway requests beyond one per call (bodies over 512 KB are metered per 512 KB). */
  readonly extraApiRequests: number;
  /** Lambda's own log lines per invocation (START, END, REPORT): 0 at system log level WARN. */
  readonly platformLogBytesPerInvocation: number;
  /** X-Ray traces per invocation: 0 with tracing off (the default). */
  readonly tracesPerInvocation: number;
  readonly prices: PriceList;
}

/** Everything per recipient. */
export interface UsagePerRecipient {
  readonly dynamodbCalls: Record<string, number>;
  /** Write units on the table (transactions ×2, failed conditions included). */
  readonly writeUnits: number;
  /** Write units on global secondary indexes. */
  readonly indexWriteUnits: number;
  readonly readUnits: number;
  /** What DynamoDB Local reported in ConsumedCapacity, for comparison (reads and writes together). */
  readonly reportedUnits: number;
  /** Units by the kind of item they went to (recipient, history, counter, …). */
  readonly unitsByItemKind: Record<string, { write: number; read: number }>;
  /** Billed SQS requests by operation, empty receives left out. */
  readonly sqsRequests: Record<string, number>;
  readonly lambdaInvocations: Record<string, number>;
  /** GB-seconds by function: modelled where `modelledBilledMs` names it, else as measured. */
  readonly lambdaGbSeconds: Record<string, number>;
  /** GB-seconds by function at the durations measured on the twin (the upper bound). */
  readonly lambdaGbSecondsMeasured: Record<string, number>;
  readonly apiGatewayRequests: number;
  readonly functionUrlRequests: number;
  readonly eventBridgeFirings: number;
  readonly logBytes: number;
  readonly xrayTraces: number;
}

export interface CostBreakdown {
  readonly dynamodbWrites: number;
  readonly dynamodbReads: number;
  readonly sqs: number;
  readonly lambdaRequests: number;
  readonly lambdaCompute: number;
  readonly apiGateway: number;
  readonly eventBridge: number;
  readonly cloudWatchLogs: number;
  readonly xray: number;
  readonly total: number;
}

export interface CostReport {
  readonly usage: UsagePerRecipient;
  /** Requests per recipient by service (Lambda: invocations; SQS: billed requests). */
  readonly requestsPerRecipient: {
    readonly dynamodb: number;
    readonly sqs: number;
    readonly lambda: number;
    readonly apiGateway: number;
    readonly total: number;
  };
  readonly costPerMillionUsd: CostBreakdown;
  /** Lambda compute per million recipients at the durations measured on the twin (an upper bound). */
  readonly lambdaComputeMeasuredUsd: number;
  /** Empty receives over the whole run (polling, not recipients): shown, not priced. */
  readonly emptyReceives: number;
}

const MILLION = 1_000_000;
const GB = 1024 ** 3;

export function costReport(inputs: CostInputs): CostReport {
  if (!(inputs.recipients > 0)) throw new Error('costReport needs at least one recipient');
  const scheduled = new Set(inputs.scheduledFunctions);
  for (const fn of scheduled)
    if (!(inputs.counts.functions[fn]?.invocations ?? 0))
      throw new Error(`costReport needs at least one firing of ${fn}'s rule in the counts`);
  const { recipients: sending, firings } = splitScheduled(inputs.counts, scheduled);
  // Each scheduled function's counts are those of its firings: per firing, then per recipient.
  const perFiring = (caller: string) =>
    inputs.firingsPerRecipientPerRule / (inputs.counts.functions[caller]?.invocations ?? 1);
  const usage = addUsage(
    usageOf(sending, () => 1 / inputs.recipients, inputs, inputs.extraApiRequests / inputs.recipients),
    usageOf(firings, perFiring, inputs, 0),
    scheduled.size * inputs.firingsPerRecipientPerRule,
  );
  const p = inputs.prices;
  const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
  const requestsPerRecipient = {
    dynamodb: sum(usage.dynamodbCalls),
    sqs: sum(usage.sqsRequests),
    lambda: sum(usage.lambdaInvocations),
    apiGateway: usage.apiGatewayRequests,
  };
  const costs = {
    dynamodbWrites: (usage.writeUnits + usage.indexWriteUnits) * p.dynamodb.perMillionWriteUnits,
    dynamodbReads: usage.readUnits * p.dynamodb.perMillionReadUnits,
    sqs: requestsPerRecipient.sqs * p.sqs.perMillionRequests,
    lambdaRequests:
      requestsPerRecipient.lambda * p.lambda.perMillionRequests +
      usage.functionUrlRequests * p.lambda.perMillionFunctionUrlRequests,
    lambdaCompute: sum(usage.lambdaGbSeconds) * MILLION * p.lambda.perGbSecondArm64,
    apiGateway: usage.apiGatewayRequests * p.apiGatewayHttp.perMillionRequests,
    eventBridge: usage.eventBridgeFirings * p.eventBridge.perMillionScheduledRuleFirings,
    cloudWatchLogs: ((usage.logBytes * MILLION) / GB) * p.cloudWatchLogs.perGbIngested,
    xray: usage.xrayTraces * p.xray.perMillionTracesRecorded,
  };
  const emptyReceives = Object.values(inputs.counts.byCaller).reduce(
    (total, caller) => total + (caller.sqs.ReceiveMessage?.emptyReceives ?? 0),
    0,
  );
  return {
    usage,
    requestsPerRecipient: { ...requestsPerRecipient, total: sum(requestsPerRecipient) },
    costPerMillionUsd: { ...costs, total: sum(costs) },
    lambdaComputeMeasuredUsd: sum(usage.lambdaGbSecondsMeasured) * MILLION * p.lambda.perGbSecondArm64,
    emptyReceives,
  };
}

/**
 * Memory at which a Lambda function has one vCPU: "Lambda allocates CPU power in proportion to the
 * amount of memory configured … At 1,769 MB, a function has the equivalent of one vCPU"
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
 */
export const LAMBDA_MB_PER_VCPU = 1769;

/**
 * The billed duration (ms, rounded up as Lambda bills) of an invocation that took `wallMs` and
 * `cpuMs` of CPU running alone on a whole core, in a function of `memoryMb`: its CPU time stretched
 * to the function's CPU share (`memoryMb / LAMBDA_MB_PER_VCPU`), its waiting (wall − CPU) as it was.
 * The proportional share ("one vCPU-second of credits per second" at 1,769 MB): if Lambda lets a short
 * invocation run faster than that, this is long.
 */
export function billedMsAlone(wallMs: number, cpuMs: number, memoryMb: number): number {
  if (!(wallMs >= 0 && cpuMs >= 0 && memoryMb > 0))
    throw new Error('billedMsAlone needs wallMs, cpuMs ≥ 0 and memoryMb > 0');
  const share = Math.min(1, memoryMb / LAMBDA_MB_PER_VCPU);
  const cpu = Math.min(cpuMs, wallMs);
  return Math.max(1, Math.ceil(wallMs - cpu + cpu / share));
}

/** Billed SQS requests, empty receives left out. */
export function billedSqsRequests(op: string, count: SqsOpCount): number {
  return count.billedRequests - (op === 'ReceiveMessage' ? count.emptyReceives : 0);
}

/** The counts of the scheduled functions apart from the rest. */
export function splitScheduled(
  counts: CountSnapshot,
  scheduled: ReadonlySet<string>,
): { recipients: CountSnapshot; firings: CountSnapshot } {
  const pick = (keep: (name: string) => boolean): CountSnapshot => ({
    byCaller: Object.fromEntries(Object.entries(counts.byCaller).filter(([name]) => keep(name))),
    functions: Object.fromEntries(Object.entries(counts.functions).filter(([name]) => keep(name))),
  });
  return { recipients: pick((name) => !scheduled.has(name)), firings: pick((name) => scheduled.has(name)) };
}

/** Usage of a snapshot, each caller's counts scaled by `factorOf(caller)` (to per recipient). */
function usageOf(
  snapshot: CountSnapshot,
  factorOf: (caller: string) => number,
  inputs: CostInputs,
  extraApiRequests: number,
): Omit<UsagePerRecipient, 'eventBridgeFirings'> {
  const dynamodbCalls: Record<string, number> = {};
  const sqsRequests: Record<string, number> = {};
  const lambdaInvocations: Record<string, number> = {};
  const lambdaGbSeconds: Record<string, number> = {};
  const lambdaGbSecondsMeasured: Record<string, number> = {};
  const unitsByItemKind: Record<string, { write: number; read: number }> = {};
  let writeUnits = 0;
  let indexWriteUnits = 0;
  let readUnits = 0;
  let reportedUnits = 0;
  let logBytes = 0;
  let apiGatewayRequests = 0;
  let functionUrlRequests = 0;
  let xrayTraces = 0;
  const excluded = new Set(inputs.excludedCallers);
  for (const [caller, counts] of Object.entries(snapshot.byCaller)) {
    if (excluded.has(caller)) continue;
    const factor = factorOf(caller);
    for (const [op, count] of Object.entries(counts.dynamodb)) {
      add(dynamodbCalls, op, (count.calls + count.retries) * factor);
      writeUnits += count.writeUnits * factor;
      indexWriteUnits += count.indexWriteUnits * factor;
      readUnits += count.readUnits * factor;
      reportedUnits += count.reportedUnits * factor;
      if (isDynamoRead(op) && count.writeUnits > 0)
        throw new Error(`a read (${op}) was counted write units: the meter is wrong`);
    }
    for (const [op, count] of Object.entries(counts.sqs))
      add(sqsRequests, op, (billedSqsRequests(op, count) + count.retries) * factor);
    for (const [kind, units] of Object.entries(counts.byItemKind)) {
      unitsByItemKind[kind] ??= { write: 0, read: 0 };
      unitsByItemKind[kind].write += (units.writeUnits + units.indexWriteUnits) * factor;
      unitsByItemKind[kind].read += units.readUnits * factor;
    }
    logBytes += counts.logBytes * factor;
  }
  for (const [fn, count] of Object.entries(snapshot.functions)) {
    if (excluded.has(fn)) continue;
    const factor = factorOf(fn);
    add(lambdaInvocations, fn, count.invocations * factor);
    const gb = (inputs.memoryMb[fn] ?? 128) / 1024;
    const measured = (count.billedMs / 1000) * gb * factor;
    const modelled = inputs.modelledBilledMs?.[fn];
    add(lambdaGbSecondsMeasured, fn, measured);
    add(
      lambdaGbSeconds,
      fn,
      modelled === undefined ? measured : ((count.invocations * modelled) / 1000) * gb * factor,
    );
    logBytes += count.invocations * inputs.platformLogBytesPerInvocation * factor;
    xrayTraces += count.invocations * inputs.tracesPerInvocation * factor;
    apiGatewayRequests += (count.bySource.httpApi ?? 0) * factor;
    functionUrlRequests += (count.bySource.functionUrl ?? 0) * factor;
  }
  apiGatewayRequests += extraApiRequests;
  return {
    dynamodbCalls,
    writeUnits,
    indexWriteUnits,
    readUnits,
    reportedUnits,
    unitsByItemKind,
    sqsRequests,
    lambdaInvocations,
    lambdaGbSeconds,
    lambdaGbSecondsMeasured,
    apiGatewayRequests,
    functionUrlRequests,
    logBytes,
    xrayTraces,
  };
}

function addUsage(
  a: Omit<UsagePerRecipient, 'eventBridgeFirings'>,
  b: Omit<UsagePerRecipient, 'eventBridgeFirings'>,
  eventBridgeFirings: number,
): UsagePerRecipient {
  const merge = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [key, value] of Object.entries(y)) add(out, key, value);
    return out;
  };
  const kinds: Record<string, { write: number; read: number }> = {};
  for (const source of [a.unitsByItemKind, b.unitsByItemKind])
    for (const [kind, units] of Object.entries(source)) {
      kinds[kind] ??= { write: 0, read: 0 };
      kinds[kind].write += units.write;
      kinds[kind].read += units.read;
    }
  return {
    dynamodbCalls: merge(a.dynamodbCalls, b.dynamodbCalls),
    writeUnits: a.writeUnits + b.writeUnits,
    indexWriteUnits: a.indexWriteUnits + b.indexWriteUnits,
    readUnits: a.readUnits + b.readUnits,
    reportedUnits: a.reportedUnits + b.reportedUnits,
    unitsByItemKind: kinds,
    sqsRequests: merge(a.sqsRequests, b.sqsRequests),
    lambdaInvocations: merge(a.lambdaInvocations, b.lambdaInvocations),
    lambdaGbSeconds: merge(a.lambdaGbSeconds, b.lambdaGbSeconds),
    lambdaGbSecondsMeasured: merge(a.lambdaGbSecondsMeasured, b.lambdaGbSecondsMeasured),
    apiGatewayRequests: a.apiGatewayRequests + b.apiGatewayRequests,
    functionUrlRequests: a.functionUrlRequests + b.functionUrlRequests,
    eventBridgeFirings,
    logBytes: a.logBytes + b.logBytes,
    xrayTraces: a.xrayTraces + b.xrayTraces,
  };
}

function add(record: Record<string, number>, key: string, value: number): void {
  record[key] = (record[key] ?? 0) + value;
}
