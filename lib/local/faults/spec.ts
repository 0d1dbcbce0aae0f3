// TWIN_FAULTS: which errors the local twin injects, where, and how often (API.md, "Local run contract").
// This module is the catalogue of supported names and the parser; nothing here does I/O.
//
// Grammar: comma-separated `name=rate`, rate a decimal from 0 to 1 (the chance per call), name one of
//   dynamodb.<Fault>  dynamodb.<Operation>.<Fault>   (DynamoDB's error names, e.g. TransactionConflict)
//   sqs.<Fault>       sqs.<Operation>.<Fault>        (SQS's error names, e.g. ServiceUnavailable)
//   twilio.<fault>                                   (timeout, 500, 429, 503, callbackDrop, callbackDuplicate)
//   events.<Fault>    events.PutEvents.<Fault>       (the local event bus: ServiceUnavailable, PartialFailure…)
// A rule without an operation applies to every operation where AWS can raise that error.

export type FaultService = 'dynamodb' | 'sqs' | 'twilio' | 'events';

export interface FaultRule {
  /** As written in TWIN_FAULTS (without the rate): `dynamodb.TransactWriteItems.TransactionConflict`. */
  readonly name: string;
  readonly service: FaultService;
  /** The API operation it is limited to (AWS only); all applicable operations when absent. */
  readonly operation?: string;
  readonly fault: string;
  /** Chance per call, 0..1 (per entry for sqs.*.PartialFailure, per callback for twilio.callback*). */
  readonly rate: number;
}

export interface FaultPlan {
  readonly rules: readonly FaultRule[];
  /** Seeds every rule's draws (TWIN_FAULTS_SEED): the same seed replays the same decisions. */
  readonly seed: number;
}

export class FaultSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultSpecError';
  }
}

// The data-plane operations the handlers' clients may call. Control-plane calls (CreateTable, …) are
// the twin's own and never go through the fault proxy.
const DYNAMODB_OPERATIONS = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
] as const;

const SQS_OPERATIONS = [
  'SendMessage',
  'SendMessageBatch',
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
  'GetQueueAttributes',
  'GetQueueUrl',
] as const;

/**
 * Each AWS fault and the operations AWS raises it on. Sources: DynamoDB API reference (each
 * operation's Errors; TransactWriteItems' CancellationReasons; "Transaction conflict handling":
 * PutItem/UpdateItem/DeleteItem fail with TransactionConflictException, transactions with
 * TransactionCanceledException); SQS API reference, Common Errors and BatchResultErrorEntry.
 */
export const AWS_FAULTS: Readonly<
  Record<'dynamodb' | 'sqs' | 'events', Readonly<Record<string, readonly string[]>>>
> = {
  dynamodb: {
    /** Transactions: TransactionCanceledException with a TransactionConflict reason; single-item writes: TransactionConflictException. */
    TransactionConflict: ['PutItem', 'UpdateItem', 'DeleteItem', 'TransactGetItems', 'TransactWriteItems'],
    /** On-demand throttling inside a transaction: TransactionCanceledException with a ThrottlingError reason. */
    ThrottlingError: ['TransactGetItems', 'TransactWriteItems'],
    ThrottlingException: DYNAMODB_OPERATIONS,
    ProvisionedThroughputExceededException: DYNAMODB_OPERATIONS,
    InternalServerError: DYNAMODB_OPERATIONS,
  },
  sqs: {
    ServiceUnavailable: SQS_OPERATIONS,
    ThrottlingException: SQS_OPERATIONS,
    RequestThrottled: SQS_OPERATIONS,
    InternalFailure: SQS_OPERATIONS,
    /** Per entry: 200 with the entry in `Failed` (SenderFault false), the other entries sent. */
    PartialFailure: ['SendMessageBatch', 'DeleteMessageBatch'],
  },
  // EventBridge (API reference: Common Errors; PutEvents' InternalException; PutEventsResultEntry's
  // retryable ErrorCodes InternalFailure and ThrottlingException), played by the twin's local bus.
  events: {
    ServiceUnavailable: ['PutEvents'],
    ThrottlingException: ['PutEvents'],
    InternalException: ['PutEvents'],
    /** Per entry: 200 with FailedEntryCount, the entry's ErrorCode InternalFailure, the others taken. */
    PartialFailure: ['PutEvents'],
  },
};

export const TWILIO_FAULTS = ['timeout', '500', '429', '503', 'callbackDrop', 'callbackDuplicate'] as const;

/** Every name TWIN_FAULTS accepts, for error messages and docs. */
export function supportedFaultNames(): string[] {
  return [
    ...Object.keys(AWS_FAULTS.dynamodb).map((f) => `dynamodb.[Operation.]${f}`),
    ...Object.keys(AWS_FAULTS.sqs).map((f) => `sqs.[Operation.]${f}`),
    ...TWILIO_FAULTS.map((f) => `twilio.${f}`),
    ...Object.keys(AWS_FAULTS.events).map((f) => `events.[PutEvents.]${f}`),
  ];
}

/** Whether an AWS rule applies to a call of `operation` on its service. */
export function appliesTo(rule: FaultRule, operation: string): boolean {
  if (rule.service === 'twilio') return false;
  if (rule.operation !== undefined) return rule.operation === operation;
  return AWS_FAULTS[rule.service][rule.fault]?.includes(operation) ?? false;
}

/**
 * Parses TWIN_FAULTS (and TWIN_FAULTS_SEED). An empty or absent spec is no faults. Throws
 * FaultSpecError naming the variable and the bad part, and listing what is supported.
 */
export function parseFaultPlan(
  spec: string | undefined,
  seedText: string | undefined,
  randomSeed: () => number = () => Math.floor(Math.random() * 2 ** 32),
): FaultPlan {
  const rules: FaultRule[] = [];
  for (const part of (spec ?? '').split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const rule = parseRule(item);
    if (rules.some((r) => r.name === rule.name))
      throw new FaultSpecError(`TWIN_FAULTS names '${rule.name}' twice; give each fault one rate.`);
    rules.push(rule);
  }
  return { rules, seed: parseSeed(seedText) ?? randomSeed() };
}

function parseRule(item: string): FaultRule {
  const bad = (why: string) =>
    new FaultSpecError(
      `TWIN_FAULTS: '${item}' ${why}. Write name=rate, comma-separated, e.g. ` +
        `dynamodb.TransactionConflict=0.05,twilio.timeout=0.01. Supported names: ${supportedFaultNames().join(', ')}.`,
    );
  const eq = item.indexOf('=');
  if (eq < 0) throw bad('has no rate');
  const name = item.slice(0, eq).trim();
  const rateText = item.slice(eq + 1).trim();
  const rate = Number(rateText);
  if (rateText === '' || !/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(rateText) || !(rate >= 0 && rate <= 1))
    throw bad(`has rate '${rateText}'; a rate is a number from 0 to 1 (0.05 = 5 % of calls)`);
  const parts = name.split('.');
  const service = parts[0];
  if (service === 'twilio') {
    const fault = parts[1] ?? '';
    if (parts.length !== 2 || !(TWILIO_FAULTS as readonly string[]).includes(fault))
      throw bad(`is not a Twilio fault (${TWILIO_FAULTS.map((f) => `twilio.${f}`).join(', ')})`);
    return { name, service, fault, rate };
  }
  if (service !== 'dynamodb' && service !== 'sqs' && service !== 'events')
    throw bad(`names service '${service}'; use dynamodb, sqs, twilio or events`);
  if (parts.length !== 2 && parts.length !== 3) throw bad('is not service.Fault or service.Operation.Fault');
  const fault = parts[parts.length - 1] ?? '';
  const operations = AWS_FAULTS[service][fault];
  if (!operations)
    throw bad(`names no ${service} fault '${fault}' (${Object.keys(AWS_FAULTS[service]).join(', ')})`);
  if (parts.length === 2) return { name, service, fault, rate };
  const operation = parts[1] ?? '';
  if (!operations.includes(operation))
    throw bad(
      `names operation '${operation}', where AWS does not raise ${fault}; it can on ${operations.join(', ')}`,
    );
  return { name, service, operation, fault, rate };
}

function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new FaultSpecError(`TWIN_FAULTS_SEED must be a whole number from 0 to 4294967295; got '${text}'.`);
  return seed;
}

/** One line for the banner: `dynamodb.TransactionConflict 5 %, twilio.timeout 1 % (seed 42)`. */
export function describeFaultPlan(plan: FaultPlan): string {
  const rules = plan.rules.map((r) => `${r.name} ${+(r.rate * 100).toFixed(3)} %`).join(', ');
  return `${rules} (TWIN_FAULTS_SEED=${plan.seed})`;
}
