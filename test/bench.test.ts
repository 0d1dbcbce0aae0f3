// The bench's pure parts (npm run bench itself is not part of npm test): the steady-rate maths,
// the cost arithmetic from counted requests, the request-counting helpers, the chart and the numbers.
import { describe, expect, it } from 'vitest';
import { sendRateSvg } from '../bench/chart.ts';
import { billedUnits, costReport } from '../bench/cost.ts';
import { type CallerCounts, type CountSnapshot, consumedUnits, dynamoItems } from '../bench/counting.ts';
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
  sqs: {},
  logBytes: 0,
  logLines: 0,
  ...counts,
});
const dynamo = (calls: number, units: number, extra: { items?: number; failedItems?: number } = {}) => ({
  calls,
  failed: extra.failedItems ? 1 : 0,
  items: extra.items ?? calls,
  failedItems: extra.failedItems ?? 0,
  units,
  gsiUnits: 0,
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
const fn = (invocations: number, billedMs: number) => ({
  invocations,
  errors: 0,
  totalMs: billedMs,
  billedMs,
});

describe('cost from counted requests', () => {
  const send: CountSnapshot = {
    byCaller: {
      sendMessages: caller({
        dynamodb: {
          TransactWriteItems: dynamo(10, 20, { items: 20, failedItems: 2 }),
          GetItem: dynamo(20, 20),
        },
        sqs: { SendMessageBatch: sqs(1) },
        logBytes: 1000,
      }),
      eventSourceMapping: caller({ sqs: { ReceiveMessage: sqs(5, 4), DeleteMessageBatch: sqs(1) } }),
      queryBroadcasts: caller({ dynamodb: { GetItem: dynamo(100, 100) } }),
    },
    functions: {
      sendMessages: fn(1, 2000),
      twilioStatusWebhook: fn(30, 600),
      queryBroadcasts: fn(50, 5000),
    },
  };
  const firings: CountSnapshot = {
    byCaller: { retryFailed: caller({ dynamodb: { Query: dynamo(4, 2) } }) },
    functions: { retryFailed: fn(1, 100) },
  };
  const report = costReport({
    recipients: 10,
    send,
    firings,
    firingsPerRecipientPerRule: 0.001,
    rules: 2,
    excludedCallers: ['queryBroadcasts'],
    memoryMb: { sendMessages: 512, twilioStatusWebhook: 512, retryFailed: 512, queryBroadcasts: 512 },
    httpFunctions: ['twilioStatusWebhook', 'queryBroadcasts'],
    extraApiRequests: 0,
    platformLogBytesPerInvocation: 100,
    prices: PRICES,
  });

  it('bills transactions double, failed calls too, and leaves out the bench polling', () => {
    expect(report.usage.writeUnits).toBeCloseTo(4.4); // (20 reported + 2 failed items) × 2 / 10
    expect(report.usage.readUnits).toBeCloseTo(2.002); // 20 / 10, plus the Query of the firings
    expect(report.usage.dynamodbCalls).toEqual({ TransactWriteItems: 1, GetItem: 2, Query: 0.004 });
  });

  it('counts SQS requests without empty receives, and API Gateway requests per routed invocation', () => {
    expect(report.usage.sqsRequests.ReceiveMessage).toBeCloseTo(0.1);
    expect(report.requestsPerRecipient.sqs).toBeCloseTo(0.3);
    expect(report.emptyReceives).toBe(4);
    expect(report.usage.apiGatewayRequests).toBeCloseTo(3);
    expect(report.usage.lambdaInvocations).toEqual({
      sendMessages: 0.1,
      twilioStatusWebhook: 3,
      retryFailed: 0.001,
    });
    expect(report.usage.eventBridgeFirings).toBeCloseTo(0.002);
  });

  it('prices the units: dollars per million recipients', () => {
    const cost = report.costPerMillionUsd;
    expect(cost.dynamodbWrites).toBeCloseTo(4.4 * 0.625);
    expect(cost.dynamodbReads).toBeCloseTo(2.002 * 0.125);
    expect(cost.sqs).toBeCloseTo(0.3 * 0.4);
    expect(cost.lambdaRequests).toBeCloseTo(3.101 * 0.2);
    // 2 s and 30 × 20 ms at 512 MB over 10 recipients, plus a thousandth of the firing.
    expect(cost.lambdaCompute).toBeCloseTo(0.13005 * 1e6 * PRICES.lambda.perGbSecondArm64, 4);
    expect(cost.apiGateway).toBeCloseTo(3);
    expect(cost.eventBridge).toBe(0);
    expect(cost.cloudWatchLogs).toBeCloseTo(((410.1 * 1e6) / 1024 ** 3) * 0.5, 5);
    const parts = Object.entries(cost).filter(([key]) => key !== 'total');
    expect(cost.total).toBeCloseTo(parts.reduce((sum, [, value]) => sum + value, 0));
    expect(report.requestsPerRecipient.total).toBeCloseTo(3.004 + 0.3 + 3.101 + 3 + 0.002);
  });

  it('refuses a run without recipients', () => {
    expect(() => costReport({ ...baseInputs(), recipients: 0 })).toThrow();
  });

  function baseInputs() {
    return {
      recipients: 1,
      send,
      firings,
      firingsPerRecipientPerRule: 0,
      rules: 0,
      excludedCallers: [],
      memoryMb: {},
      httpFunctions: [],
      extraApiRequests: 0,
      platformLogBytesPerInvocation: 0,
      prices: PRICES,
    };
  }
});

describe('request counting helpers', () => {
  it('names the items of transactions and batches', () => {
    expect(dynamoItems('TransactWriteItems', { TransactItems: [{}, {}, {}] })).toBe(3);
    expect(dynamoItems('BatchWriteItem', { RequestItems: { t: [{}, {}], u: [{}] } })).toBe(3);
    expect(dynamoItems('BatchGetItem', { RequestItems: { t: { Keys: [{}, {}] } } })).toBe(2);
    expect(dynamoItems('GetItem', {})).toBe(1);
  });

  it('sums consumed capacity, one entry or one per table, with index units apart', () => {
    expect(consumedUnits({ CapacityUnits: 2, GlobalSecondaryIndexes: { a: { CapacityUnits: 1 } } })).toEqual({
      units: 2,
      gsiUnits: 1,
    });
    expect(consumedUnits([{ CapacityUnits: 1 }, { CapacityUnits: 0.5 }])).toEqual({
      units: 1.5,
      gsiUnits: 0,
    });
    expect(consumedUnits(undefined)).toEqual({ units: 0, gsiUnits: 0 });
    expect(billedUnits('UpdateItem', dynamo(1, 3))).toBe(3);
    expect(billedUnits('TransactWriteItems', dynamo(1, 2, { failedItems: 2 }))).toBe(8);
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
