/**
 * From counted requests to requests and dollars per recipient. Pure arithmetic: the counting is
 * bench/counting.ts, the prices bench/prices.ts.
 *
 * Units:
 * - DynamoDB: the capacity units DynamoDB Local reported per call (item sizes, 4 KB reads, 1 KB
 *   writes, eventually consistent reads at half, index writes included), doubled for transactions
 *   (AWS bills 2 units per item in TransactWriteItems/TransactGetItems; DynamoDB Local reports 1).
 *   A failed call (condition not met) reports nothing, yet AWS bills it: 1 unit per item named.
 *   Queries are billed per 4 KB read in total, which is what DynamoDB Local reports for them.
 * - SQS: requests in 64 KB payload chunks; empty receives are a cost of polling over time, not of
 *   recipients (and the local pollers wait 1 s per receive where AWS's wait 20 s), so left out.
 * - Lambda: invocations, and GB-seconds from the measured durations × each function's memory.
 * - API Gateway: one request per invocation of a function behind a route.
 * - EventBridge: scheduled rules fire per schedule, not per recipient: one measured firing of each
 *   rule, amortized over the recipients a sender gets through between two firings.
 * - CloudWatch Logs: the bytes the handlers logged, plus Lambda's own START/END/REPORT lines.
 */
import {
  type CountSnapshot,
  type DynamoOpCount,
  isDynamoRead,
  isDynamoTransaction,
  type SqsOpCount,
} from './counting.ts';
import type { PriceList } from './prices.ts';

export interface CostInputs {
  readonly recipients: number;
  /** Counted from the POST to the last status callback. */
  readonly send: CountSnapshot;
  /** Counted over one firing of each scheduled rule. */
  readonly firings: CountSnapshot;
  /** Firings of each rule per recipient on AWS. */
  readonly firingsPerRecipientPerRule: number;
  readonly rules: number;
  /** Callers left out of both snapshots (the bench's own progress polling). */
  readonly excludedCallers: readonly string[];
  readonly memoryMb: Readonly<Record<string, number>>;
  /** Functions behind HTTP routes: each invocation is one API Gateway request. */
  readonly httpFunctions: readonly string[];
  /** API Gateway requests beyond one per call (bodies over 512 KB are metered per 512 KB). */
  readonly extraApiRequests: number;
  /** Lambda's own log lines per invocation (START, END, REPORT). */
  readonly platformLogBytesPerInvocation: number;
  readonly prices: PriceList;
}

/** Everything per recipient. */
export interface UsagePerRecipient {
  readonly dynamodbCalls: Record<string, number>;
  /** Billed units by operation (transactions doubled, failed calls included). */
  readonly dynamodbUnits: Record<string, number>;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Billed SQS requests by operation, empty receives left out. */
  readonly sqsRequests: Record<string, number>;
  readonly lambdaInvocations: Record<string, number>;
  readonly lambdaGbSeconds: number;
  readonly apiGatewayRequests: number;
  readonly eventBridgeFirings: number;
  readonly logBytes: number;
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
  readonly total: number;
}

export interface CostReport {
  readonly usage: UsagePerRecipient;
  readonly requestsPerRecipient: {
    readonly dynamodb: number;
    readonly sqs: number;
    readonly lambda: number;
    readonly apiGateway: number;
    readonly eventBridge: number;
    readonly total: number;
  };
  readonly costPerMillionUsd: CostBreakdown;
  /** Empty receives over the whole run (polling, not recipients): shown, not priced. */
  readonly emptyReceives: number;
}

const MILLION = 1_000_000;
const GB = 1024 ** 3;

export function costReport(inputs: CostInputs): CostReport {
  if (!(inputs.recipients > 0)) throw new Error('costReport needs at least one recipient');
  const perRecipient = 1 / inputs.recipients;
  const firingShare = inputs.firingsPerRecipientPerRule;
  const usage = addUsage(
    usageOf(inputs.send, perRecipient, inputs, inputs.extraApiRequests),
    usageOf(inputs.firings, firingShare, inputs, 0),
    inputs.rules * firingShare,
  );
  const p = inputs.prices;
  const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
  const requestsPerRecipient = {
    dynamodb: sum(usage.dynamodbCalls),
    sqs: sum(usage.sqsRequests),
    lambda: sum(usage.lambdaInvocations),
    apiGateway: usage.apiGatewayRequests,
    eventBridge: usage.eventBridgeFirings,
  };
  const costs = {
    dynamodbWrites: usage.writeUnits * p.dynamodb.perMillionWriteUnits,
    dynamodbReads: usage.readUnits * p.dynamodb.perMillionReadUnits,
    sqs: requestsPerRecipient.sqs * p.sqs.perMillionRequests,
    lambdaRequests: requestsPerRecipient.lambda * p.lambda.perMillionRequests,
    lambdaCompute: usage.lambdaGbSeconds * MILLION * p.lambda.perGbSecondArm64,
    apiGateway: usage.apiGatewayRequests * p.apiGatewayHttp.perMillionRequests,
    eventBridge: usage.eventBridgeFirings * p.eventBridge.perMillionScheduledRuleFirings,
    cloudWatchLogs: ((usage.logBytes * MILLION) / GB) * p.cloudWatchLogs.perGbIngested,
  };
  const emptyReceives = [inputs.send, inputs.firings]
    .flatMap((s) => Object.values(s.byCaller))
    .reduce((total, caller) => total + (caller.sqs.ReceiveMessage?.emptyReceives ?? 0), 0);
  return {
    usage,
    requestsPerRecipient: { ...requestsPerRecipient, total: sum(requestsPerRecipient) },
    costPerMillionUsd: { ...costs, total: sum(costs) },
    emptyReceives,
  };
}

/** Billed DynamoDB units of one operation's counts. */
export function billedUnits(op: string, count: DynamoOpCount): number {
  return (count.units + count.failedItems) * (isDynamoTransaction(op) ? 2 : 1);
}

/** Billed SQS requests, empty receives left out. */
export function billedSqsRequests(op: string, count: SqsOpCount): number {
  return count.billedRequests - (op === 'ReceiveMessage' ? count.emptyReceives : 0);
}

function usageOf(
  snapshot: CountSnapshot,
  factor: number,
  inputs: CostInputs,
  extraApiRequests: number,
): Omit<UsagePerRecipient, 'eventBridgeFirings'> {
  const dynamodbCalls: Record<string, number> = {};
  const dynamodbUnits: Record<string, number> = {};
  const sqsRequests: Record<string, number> = {};
  const lambdaInvocations: Record<string, number> = {};
  let readUnits = 0;
  let writeUnits = 0;
  let logBytes = 0;
  let lambdaGbSeconds = 0;
  let apiGatewayRequests = 0;
  const excluded = new Set(inputs.excludedCallers);
  for (const [caller, counts] of Object.entries(snapshot.byCaller)) {
    if (excluded.has(caller)) continue;
    for (const [op, count] of Object.entries(counts.dynamodb)) {
      const units = billedUnits(op, count) * factor;
      add(dynamodbCalls, op, (count.calls + count.retries) * factor);
      add(dynamodbUnits, op, units);
      if (isDynamoRead(op)) readUnits += units;
      else writeUnits += units;
    }
    for (const [op, count] of Object.entries(counts.sqs))
      add(sqsRequests, op, (billedSqsRequests(op, count) + count.retries) * factor);
    logBytes += counts.logBytes * factor;
  }
  for (const [fn, count] of Object.entries(snapshot.functions)) {
    if (excluded.has(fn)) continue;
    add(lambdaInvocations, fn, count.invocations * factor);
    lambdaGbSeconds += (count.billedMs / 1000) * ((inputs.memoryMb[fn] ?? 128) / 1024) * factor;
    logBytes += count.invocations * inputs.platformLogBytesPerInvocation * factor;
    if (inputs.httpFunctions.includes(fn)) apiGatewayRequests += count.invocations * factor;
  }
  apiGatewayRequests += extraApiRequests * factor;
  return {
    dynamodbCalls,
    dynamodbUnits,
    readUnits,
    writeUnits,
    sqsRequests,
    lambdaInvocations,
    lambdaGbSeconds,
    apiGatewayRequests,
    logBytes,
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
  return {
    dynamodbCalls: merge(a.dynamodbCalls, b.dynamodbCalls),
    dynamodbUnits: merge(a.dynamodbUnits, b.dynamodbUnits),
    readUnits: a.readUnits + b.readUnits,
    writeUnits: a.writeUnits + b.writeUnits,
    sqsRequests: merge(a.sqsRequests, b.sqsRequests),
    lambdaInvocations: merge(a.lambdaInvocations, b.lambdaInvocations),
    lambdaGbSeconds: a.lambdaGbSeconds + b.lambdaGbSeconds,
    apiGatewayRequests: a.apiGatewayRequests + b.apiGatewayRequests,
    eventBridgeFirings,
    logBytes: a.logBytes + b.logBytes,
  };
}

function add(record: Record<string, number>, key: string, value: number): void {
  record[key] = (record[key] ?? 0) + value;
}
