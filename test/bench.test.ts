// The bench's pure parts (npm run bench itself is not part of npm test): the steady-rate maths,
// DynamoDB's billing arithmetic (with AWS's own worked examples), the meter, the cost arithmetic from
// counted requests, the request-counting helpers, the chart and the numbers.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { sendRateSvg } from '../bench/chart.ts';
import { billedMsAlone, costReport } from '../bench/cost.ts';
import {
  type CallerCounts,
  type CountSnapshot,
  DynamoMeter,
  dynamoItems,
  type FunctionCount,
  itemKind,
  reportedUnits,
} from '../bench/counting.ts';
import {
  indexWriteUnits,
  itemBytes,
  numberBytes,
  readUnits,
  valueBytes,
  writeUnits,
} from '../bench/dynamo-units.ts';
import { ordinaryPhones, phonesEndingIn } from '../bench/phones.ts';
import { PRICES } from '../bench/prices.ts';
import { roundDeep } from '../bench/report.ts';
import { median, perSecondCounts, steadyRate } from '../bench/steady-rate.ts';

describe('steady send rate', () => {
  it('leaves out the ramp-up and the tail: 50/s in the middle reads as 50/s', () => {
    const times: number[] = [];
    // 5 s of ramp-up at 10/s, 30 s at 50/s, then a slow tail of 20 messages over 10 s.
    for (let i = 0; i < 50; i++) times.push(i * 100);
    for (let i = 0; i < 1500; i++) times.push(5000 + i * 20);
    for (let i = 0; i < 20; i++) times.push(35_000 + i * 500);
    const steady = steadyRate(times);
    expect(steady.ratePerSecond).toBeCloseTo(50, 0);
    expect(steady.medianPerSecond).toBe(50);
    expect(steady.messages).toBe(Math.ceil(1569 * 0.9) - Math.floor(1569 * 0.1));
    expect(steady.method).toContain('10th percentile');
  });

  it('is 0 with fewer than two messages, and ignores the input order', () => {
    expect(steadyRate([]).ratePerSecond).toBe(0);
    expect(steadyRate([1000]).ratePerSecond).toBe(0);
    expect(steadyRate([3000, 1000, 2000, 0, 4000]).ratePerSecond).toBeCloseTo(
      steadyRate([0, 1000, 2000, 3000, 4000]).ratePerSecond,
    );
  });

  it('counts per whole second after the origin, gaps as zeros', () => {
    expect(perSecondCounts([1000, 1500, 1999, 4200], 1000)).toEqual([3, 0, 0, 1]);
    expect(perSecondCounts([500, 1500], 1000, 2)).toEqual([1, 0]);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});

const caller = (counts: Partial<CallerCounts>): CallerCounts => ({
  dynamodb: {},
  callsByTarget: {},
  byItemKind: {},
  sqs: {},
  logBytes: 0,
  logLines: 0,
  ...counts,
});
const dynamo = (calls: number, units: { write?: number; index?: number; read?: number } = {}) => ({
  calls,
  failed: 0,
  items: calls,
  failedItems: 0,
  writeUnits: units.write ?? 0,
  indexWriteUnits: units.index ?? 0,
  readUnits: units.read ?? 0,
  reportedUnits: 0,
  retries: 0,
});
const sqs = (billedRequests: number, emptyReceives = 0) => ({
  calls: billedRequests,
  failed: 0,
  billedRequests,
  messages: 10,
  emptyReceives,
  retries: 0,
});
const fn = (invocations: number, billedMs: number, bySource: FunctionCount['bySource'] = {}) => ({
  invocations,
  bySource,
  errors: 0,
  totalMs: billedMs,
  billedMs,
  peakConcurrency: 1,
});

describe('DynamoDB item sizes (AWS "Item sizes and formats")', () => {
  it('adds attribute names and values: strings by UTF-8 bytes, numbers by significant digits', () => {
    // "name" (4) + "Ann" (3); "attempts" (8) + 12345 (5 digits: 3 bytes + 1).
    expect(itemBytes({ name: 'Ann' })).toBe(7);
    expect(itemBytes({ attempts: 12345 })).toBe(12);
    // Leading and trailing zeros are trimmed: 1000 is one significant digit, 0.001 too.
    expect(numberBytes(1000)).toBe(2);
    expect(numberBytes(0.001)).toBe(2);
    expect(numberBytes(-1.25)).toBe(3);
    expect(numberBytes('1700000000001')).toBe(8);
    // UTF-8: "é" is two bytes.
    expect(itemBytes({ s: 'é' })).toBe(3);
  });

  it('counts 1 byte for null and booleans, 3 for a List or Map and 1 per element', () => {
    expect(itemBytes({ ok: true, no: null })).toBe(2 + 1 + 2 + 1);
    // "m" + 3 + (1 + "a" + "xy"): 1 + 3 + 4.
    expect(itemBytes({ m: { a: 'xy' } })).toBe(8);
    // "l" + 3 + (1 + "x") + (1 + 7 as 2 bytes).
    expect(itemBytes({ l: ['x', 7] })).toBe(1 + 3 + 2 + 3);
    expect(itemBytes({ e: [] })).toBe(4);
    expect(valueBytes(new Set(['ab', 'c']))).toBe(3);
    expect(itemBytes(undefined)).toBe(0);
  });
});

describe('DynamoDB units (AWS "read and write operations", transactions, GSIs)', () => {
  it('bills writes per 1 KB, at least 1, and twice inside a transaction', () => {
    expect(writeUnits(500)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    // A 1.5 KB item: 2 write units, 4 in a transaction.
    expect(writeUnits(1536)).toBe(2);
    expect(writeUnits(1536, { transactional: true })).toBe(4);
    // AWS's example: a transaction writing three 500-byte items needs 6 WCUs.
    expect(3 * writeUnits(500, { transactional: true })).toBe(6);
    expect(writeUnits(0)).toBe(1);
  });

  it('bills reads per 4 KB: a 3,500-byte item costs one unit, half eventually consistent', () => {
    expect(readUnits(3500, 'strong')).toBe(1);
    expect(readUnits(3500, 'eventual')).toBe(0.5);
    expect(readUnits(3500, 'transactional')).toBe(2);
    expect(readUnits(4097, 'strong')).toBe(2);
    // Nothing found still costs the minimum.
    expect(readUnits(0, 'strong')).toBe(1);
  });

  it('writes a global secondary index when the item enters, leaves, changes key or changes in it', () => {
    const index = [{ name: 'retries', partitionKey: 'retryKey', sortKey: 'nextRetryAt' }];
    const base = { pk: 'p', sk: 's', status: 'failed' };
    const inIt = { ...base, retryKey: 'b', nextRetryAt: '2026-11-30T10:00' };
    expect(indexWriteUnits(undefined, base, index)).toEqual({});
    expect(indexWriteUnits(base, inIt, index)).toEqual({ retries: 1 });
    expect(indexWriteUnits(inIt, base, index)).toEqual({ retries: 1 });
    // An index key change is a delete and a put.
    expect(indexWriteUnits(inIt, { ...inIt, nextRetryAt: '2026-11-30T11:00' }, index)).toEqual({
      retries: 2,
    });
    // Projection ALL: another attribute changing rewrites the entry once; nothing changing, nothing.
    expect(indexWriteUnits(inIt, { ...inIt, status: 'undelivered' }, index)).toEqual({ retries: 1 });
    expect(indexWriteUnits(inIt, { ...inIt }, index)).toEqual({});
    // A large entry costs its KBs.
    expect(indexWriteUnits(undefined, { ...inIt, blob: 'x'.repeat(3000) }, index)).toEqual({ retries: 3 });
  });
});

describe('the DynamoDB meter', () => {
  const table = {
    name: 't',
    partitionKey: 'pk',
    sortKey: 'sk',
    indexes: [{ name: 'active', partitionKey: 'active' }],
  };
  // The paths below never call the client (no seed, no read back): it points nowhere.
  const meter = () =>
    new DynamoMeter(
      new DynamoDBClient({
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:9',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      }),
      [table],
    );
  const prepared = { input: {}, stripAttributes: false, stripErrorItem: false };

  it('asks an UpdateItem for its new item (and the old one when refused), and says to hide them', () => {
    const m = meter();
    const asked = m.prepare('UpdateItem', { TableName: 't', Key: { pk: 'a', sk: 'b' } });
    expect(asked.input).toMatchObject({
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(asked).toMatchObject({ stripAttributes: true, stripErrorItem: true });
    const own = m.prepare('UpdateItem', { TableName: 't', Key: {}, ReturnValues: 'ALL_NEW' });
    expect(own).toMatchObject({ stripAttributes: false, stripErrorItem: true });
    expect(m.prepare('PutItem', { TableName: 't' }).input).toEqual({ TableName: 't' });
  });

  it('bills a write on the larger of the item before and after, and its index entry', async () => {
    const m = meter();
    const big = { pk: 'a', sk: 'b', blob: 'x'.repeat(1500) };
    expect(await m.succeeded('PutItem', { TableName: 't', Item: big }, {}, prepared)).toEqual({
      writeUnits: 2,
      indexWriteUnits: 0,
      readUnits: 0,
    });
    // Shrinking it still costs the larger (before) size; entering the index costs the new entry.
    const small = { pk: 'a', sk: 'b', active: 'ACTIVE' };
    const update = { TableName: 't', Key: { pk: 'a', sk: 'b' } };
    const askedNew = { ...prepared, input: { ...update, ReturnValues: 'ALL_NEW' } };
    expect(await m.succeeded('UpdateItem', update, { Attributes: small }, askedNew)).toEqual({
      writeUnits: 2,
      indexWriteUnits: 1,
      readUnits: 0,
    });
    // A strongly consistent read of the (now small) item: 1 unit; eventually consistent: half.
    const get = { TableName: 't', Key: { pk: 'a', sk: 'b' } };
    expect(
      (await m.succeeded('GetItem', { ...get, ConsistentRead: true }, { Item: small }, prepared)).readUnits,
    ).toBe(1);
    expect((await m.succeeded('GetItem', get, {}, prepared)).readUnits).toBe(0.5);
  });

  it('bills a transaction twice per item, and a refused one too', async () => {
    const m = meter();
    const item = (n: number) => ({ pk: `p${n}`, sk: 's', blob: 'x'.repeat(1400) });
    const input = {
      TransactItems: [{ Put: { TableName: 't', Item: item(1) } }, { Put: { TableName: 't', Item: item(2) } }],
    };
    // Two 1.4 KB items: 2 units each, doubled.
    expect((await m.succeeded('TransactWriteItems', input, {}, prepared)).writeUnits).toBe(8);
    const cancelled = Object.assign(new Error('cancelled'), { name: 'TransactionCanceledException' });
    expect(m.failed('TransactWriteItems', input, cancelled, prepared).writeUnits).toBe(8);
  });

  it('bills a failed conditional write on the item as it is (returned with the refusal)', () => {
    const m = meter();
    const refused = Object.assign(new Error('no'), {
      name: 'ConditionalCheckFailedException',
      Item: { pk: { S: 'a' }, sk: { S: 'b' }, blob: { S: 'x'.repeat(2100) } },
    });
    expect(
      m.failed('UpdateItem', { TableName: 't', Key: { pk: 'a', sk: 'b' } }, refused, prepared).writeUnits,
    ).toBe(3);
    // Nothing there, nothing returned: the minimum.
    const bare = Object.assign(new Error('no'), { name: 'ConditionalCheckFailedException' });
    expect(
      m.failed('UpdateItem', { TableName: 't', Key: { pk: 'z', sk: 'z' } }, bare, prepared).writeUnits,
    ).toBe(1);
    // Other errors (throttling, validation) write nothing.
    expect(m.failed('UpdateItem', { TableName: 't', Key: {} }, new Error('x'), prepared).writeUnits).toBe(0);
  });

  it('bills a Query on the total it read, rounded up to 4 KB once', async () => {
    const m = meter();
    const items = Array.from({ length: 3 }, (_, n) => ({ pk: 'q', sk: String(n), blob: 'x'.repeat(1500) }));
    const units = await m.succeeded(
      'Query',
      { TableName: 't', ConsistentRead: true },
      { Items: items },
      prepared,
    );
    expect(units.readUnits).toBe(2); // ~4.5 KB
    expect((await m.succeeded('Query', { TableName: 't' }, { Items: [] }, prepared)).readUnits).toBe(0.5);
  });

  it('names what items are, for the units-by-item breakdown', () => {
    expect(itemKind('BROADCAST#brd_1#S03', 'R#0000001')).toBe('recipient');
    expect(itemKind('BROADCAST#brd_1', 'COUNTS#S03')).toBe('counter');
    expect(itemKind('BROADCAST#brd_1', 'CHUNK#00000')).toBe('chunk');
    expect(itemKind('TENANT#t', 'BROADCAST#brd_1')).toBe('broadcast');
    expect(itemKind('CONTACT#+972501234567', 'MSG#t#…')).toBe('history');
    expect(itemKind('PACE#whatsapp:+1', 'PACE')).toBe('senderSchedule');
  });
});

describe('cost from counted requests', () => {
  const counts: CountSnapshot = {
    byCaller: {
      sendMessages: caller({
        dynamodb: {
          UpdateItem: dynamo(10, { write: 12 }),
          GetItem: dynamo(20, { read: 20 }),
          TransactWriteItems: dynamo(1, { write: 4, index: 2 }),
        },
        sqs: { SendMessageBatch: sqs(1) },
        logBytes: 1000,
      }),
      eventSourceMapping: caller({ sqs: { ReceiveMessage: sqs(5, 4), DeleteMessageBatch: sqs(1) } }),
      queryBroadcasts: caller({ dynamodb: { GetItem: dynamo(100, { read: 100 }) } }),
      // Two firings of the sweeper: its counts are per firing, then amortized.
      sweepStuck: caller({ dynamodb: { Query: dynamo(4, { read: 2000 }) } }),
    },
    functions: {
      sendMessages: fn(1, 2000, { eventSource: 1 }),
      twilioStatusWebhook: fn(30, 600, { functionUrl: 29, httpApi: 1 }),
      queryBroadcasts: fn(50, 5000, { httpApi: 50 }),
      sweepStuck: fn(2, 200, { eventSource: 2 }),
    },
  };
  const inputs = {
    recipients: 10,
    counts,
    scheduledFunctions: ['sweepStuck'],
    firingsPerRecipientPerRule: 0.001,
    excludedCallers: ['queryBroadcasts'],
    memoryMb: { sendMessages: 512, twilioStatusWebhook: 256, sweepStuck: 512, queryBroadcasts: 512 },
    extraApiRequests: 0,
    platformLogBytesPerInvocation: 0,
    tracesPerInvocation: 0,
    prices: PRICES,
  };
  const report = costReport(inputs);

  it('takes the units as counted, leaves out the bench polling, and amortizes scheduled firings', () => {
    expect(report.usage.writeUnits).toBeCloseTo(1.6); // 16 / 10
    expect(report.usage.indexWriteUnits).toBeCloseTo(0.2);
    // 20 / 10, plus the sweeper's 2,000 over 2 firings, at 0.001 firing per recipient.
    expect(report.usage.readUnits).toBeCloseTo(2 + 1);
    expect(report.usage.dynamodbCalls).toEqual({
      UpdateItem: 1,
      GetItem: 2,
      TransactWriteItems: 0.1,
      Query: 0.002,
    });
    expect(report.usage.eventBridgeFirings).toBeCloseTo(0.001);
  });

  it('counts API Gateway only for requests through it: Function URL callbacks are Lambda alone', () => {
    expect(report.usage.apiGatewayRequests).toBeCloseTo(0.1);
    expect(report.usage.functionUrlRequests).toBeCloseTo(2.9);
    expect(report.usage.lambdaInvocations).toEqual({
      sendMessages: 0.1,
      twilioStatusWebhook: 3,
      sweepStuck: 0.001,
    });
    expect(report.usage.sqsRequests.ReceiveMessage).toBeCloseTo(0.1);
    expect(report.requestsPerRecipient.sqs).toBeCloseTo(0.3);
    expect(report.emptyReceives).toBe(4);
  });

  it('prices the units: dollars per million recipients, logs at WARN and X-Ray off', () => {
    const cost = report.costPerMillionUsd;
    expect(cost.dynamodbWrites).toBeCloseTo(1.8 * 0.625);
    expect(cost.dynamodbReads).toBeCloseTo(3 * 0.125);
    expect(cost.sqs).toBeCloseTo(0.3 * 0.4);
    expect(cost.lambdaRequests).toBeCloseTo(3.101 * 0.2);
    // 2 s at 512 MB and 30 × 20 ms at 256 MB over 10 recipients, plus a firing's 0.1 s at 512 MB × 0.001.
    expect(cost.lambdaCompute).toBeCloseTo((0.1 + 0.015 + 0.00005) * 1e6 * PRICES.lambda.perGbSecondArm64, 4);
    expect(cost.apiGateway).toBeCloseTo(0.1);
    expect(cost.cloudWatchLogs).toBeCloseTo(((100 * 1e6) / 1024 ** 3) * 0.5, 5);
    expect(cost.xray).toBe(0);
    expect(cost.eventBridge).toBe(0);
    const parts = Object.entries(cost).filter(([key]) => key !== 'total');
    expect(cost.total).toBeCloseTo(parts.reduce((sum, [, value]) => sum + value, 0));
  });

  it("adds Lambda's own log lines and traces when the stack would write them", () => {
    const verbose = costReport({ ...inputs, platformLogBytesPerInvocation: 300, tracesPerInvocation: 1 });
    expect(verbose.usage.logBytes).toBeCloseTo(100 + 3.101 * 300);
    expect(verbose.costPerMillionUsd.xray).toBeCloseTo(3.101 * 5);
  });

  it("prices a modelled function at its modelled duration, and still reports the twin's measured total", () => {
    const modelled = costReport({ ...inputs, modelledBilledMs: { twilioStatusWebhook: 5 } });
    // 30 callbacks × 5 ms at 256 MB over 10 recipients, in place of their measured 20 ms each.
    expect(modelled.usage.lambdaGbSeconds.twilioStatusWebhook).toBeCloseTo((30 * 0.005 * 0.25) / 10);
    expect(modelled.usage.lambdaGbSecondsMeasured.twilioStatusWebhook).toBeCloseTo((30 * 0.02 * 0.25) / 10);
    expect(modelled.usage.lambdaGbSeconds.sendMessages).toBeCloseTo(
      report.usage.lambdaGbSeconds.sendMessages ?? 0,
    );
    expect(modelled.lambdaComputeMeasuredUsd).toBeCloseTo(report.costPerMillionUsd.lambdaCompute);
    expect(modelled.costPerMillionUsd.lambdaCompute).toBeCloseTo(
      (0.1 + 0.00375 + 0.00005) * 1e6 * PRICES.lambda.perGbSecondArm64,
      4,
    );
  });

  it('refuses a run without recipients, or without a firing of each scheduled rule', () => {
    expect(() => costReport({ ...inputs, recipients: 0 })).toThrow();
    expect(() => costReport({ ...inputs, scheduledFunctions: ['retryFailed'] })).toThrow(/retryFailed/);
  });
});

describe('an invocation as a Lambda environment runs it (billedMsAlone)', () => {
  it("stretches the invocation's CPU to its memory's share of a vCPU, and keeps its waiting as it was", () => {
    // 10 ms alone, 2 of them CPU, at 128 MB (128/1,769 of a vCPU): 8 + 2 × 1,769/128 = 35.6, billed 36.
    expect(billedMsAlone(10, 2, 128)).toBe(36);
    // A whole vCPU at 1,769 MB and over: as measured.
    expect(billedMsAlone(10, 2, 1769)).toBe(10);
    expect(billedMsAlone(10, 2, 3008)).toBe(10);
    // CPU that ran beside it (the pollers) counts as its own, but never more than its duration.
    expect(billedMsAlone(1, 5, 128)).toBe(14);
    // Lambda bills at least 1 ms.
    expect(billedMsAlone(0.2, 0, 128)).toBe(1);
    expect(() => billedMsAlone(-1, 0, 128)).toThrow();
    expect(() => billedMsAlone(10, 2, 0)).toThrow();
  });
});

describe('request counting helpers', () => {
  it('names the items of transactions and batches', () => {
    expect(dynamoItems('TransactWriteItems', { TransactItems: [{}, {}, {}] })).toBe(3);
    expect(dynamoItems('BatchWriteItem', { RequestItems: { t: [{}, {}], u: [{}] } })).toBe(3);
    expect(dynamoItems('BatchGetItem', { RequestItems: { t: { Keys: [{}, {}] } } })).toBe(2);
    expect(dynamoItems('GetItem', {})).toBe(1);
  });

  it('sums what DynamoDB Local reported, one entry or one per table', () => {
    expect(reportedUnits({ CapacityUnits: 2 })).toBe(2);
    expect(reportedUnits([{ CapacityUnits: 1 }, { CapacityUnits: 0.5 }])).toBe(1.5);
    expect(reportedUnits(undefined)).toBe(0);
  });
});

describe('send-rate chart', () => {
  const chart = {
    title: 'Send rate <test> & more',
    subtitle: '2,000 recipients',
    acceptedPerSecond: [10, 48, 50, 49, 12],
    rejectedPerSecond: [0, 0, 3, 0, 0],
    limit: 50,
    steady: { fromS: 1, toS: 4, rate: 49.1 },
  };

  it('draws bars, the 429s, labelled axes and the limit as a horizontal line', () => {
    const svg = sendRateSvg(chart);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const limitLine =
      /<line x1="(\d+(?:\.\d)?)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"[^>]*stroke-dasharray/.exec(svg);
    expect(limitLine?.[2]).toBe(limitLine?.[4]);
    expect(svg).toContain('configured limit 50/s');
    expect(svg).toContain('seconds since the first message was accepted');
    expect(svg).toContain('messages per second');
    expect(svg).toContain('Send rate &lt;test&gt; &amp; more');
    expect(svg).toContain('steady 49.1/s');
    expect(svg.match(/fill="#3b6fb6"/g)?.length).toBe(5 + 1); // five bars and the legend
    expect(svg.match(/fill="#d0453a"/g)?.length).toBe(1 + 1);
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('is deterministic, and copes with an empty run', () => {
    expect(sendRateSvg(chart)).toBe(sendRateSvg(structuredClone(chart)));
    const empty = sendRateSvg({ title: 't', subtitle: 's', acceptedPerSecond: [], limit: 80 });
    expect(empty).toContain('configured limit 80/s');
    expect(empty).not.toMatch(/NaN|undefined|Infinity/);
  });
});

describe('bench phone numbers', () => {
  it('are distinct E.164 numbers that never end in a simulator scenario (000x)', () => {
    const phones = ordinaryPhones(20_000);
    expect(new Set(phones).size).toBe(phones.length);
    for (const phone of phones) {
      expect(phone).toMatch(/^\+9725\d{8}$/);
      expect(phone.slice(-4)).not.toMatch(/^000/);
    }
  });

  it('can all end in the same four digits', () => {
    const phones = phonesEndingIn('0009', 1500);
    expect(new Set(phones).size).toBe(1500);
    expect(phones.every((p) => p.endsWith('0009'))).toBe(true);
    expect(() => phonesEndingIn('0009', 6001)).toThrow();
  });
});

describe('result rounding', () => {
  it('keeps whole numbers, two decimals above 1, three significant digits below', () => {
    expect(roundDeep({ a: 156583.3604, b: 0.0000416667, c: 3, d: [1.23456], e: 'x', f: null })).toEqual({
      a: 156583.36,
      b: 0.0000417,
      c: 3,
      d: [1.23],
      e: 'x',
      f: null,
    });
  });
});
