import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, localConfigFromEnv } from '../lib/local/config.ts';
import { FaultInjector } from '../lib/local/faults/injector.ts';
import { appliesTo, describeFaultPlan, type FaultPlan, parseFaultPlan } from '../lib/local/faults/spec.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'fault-spec-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const parse = (spec: string, seed = '1') => parseFaultPlan(spec, seed);
const errorOf = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
};

describe('TWIN_FAULTS', () => {
  it("reads API.md's example", () => {
    const plan = parse(
      'dynamodb.TransactionConflict=0.05,dynamodb.ThrottlingException=0.02,sqs.ServiceUnavailable=0.01,twilio.timeout=0.01',
      '42',
    );
    expect(plan).toEqual({
      seed: 42,
      rules: [
        {
          name: 'dynamodb.TransactionConflict',
          service: 'dynamodb',
          fault: 'TransactionConflict',
          rate: 0.05,
        },
        {
          name: 'dynamodb.ThrottlingException',
          service: 'dynamodb',
          fault: 'ThrottlingException',
          rate: 0.02,
        },
        { name: 'sqs.ServiceUnavailable', service: 'sqs', fault: 'ServiceUnavailable', rate: 0.01 },
        { name: 'twilio.timeout', service: 'twilio', fault: 'timeout', rate: 0.01 },
      ],
    });
    expect(describeFaultPlan(plan)).toBe(
      'dynamodb.TransactionConflict 5 %, dynamodb.ThrottlingException 2 %, sqs.ServiceUnavailable 1 %, twilio.timeout 1 % (TWIN_FAULTS_SEED=42)',
    );
  });

  it('limits a rule to one operation, or applies it wherever AWS raises that error', () => {
    const [limited, everywhere] = parse(
      ' dynamodb.TransactWriteItems.TransactionConflict = 1 , dynamodb.TransactionConflict=0.5 ,',
    ).rules;
    expect(limited).toMatchObject({ operation: 'TransactWriteItems', fault: 'TransactionConflict', rate: 1 });
    if (!limited || !everywhere) throw new Error('two rules expected');
    expect(appliesTo(limited, 'TransactWriteItems')).toBe(true);
    expect(appliesTo(limited, 'UpdateItem')).toBe(false);
    for (const op of ['TransactWriteItems', 'TransactGetItems', 'PutItem', 'UpdateItem', 'DeleteItem'])
      expect(appliesTo(everywhere, op)).toBe(true);
    for (const op of ['GetItem', 'Query', 'BatchWriteItem']) expect(appliesTo(everywhere, op)).toBe(false);
    expect(parse('').rules).toEqual([]);
  });

  it('refuses a bad spec with a message naming the variable, the bad part and what is supported', () => {
    const typo = errorOf(() => parse('dynamodb.TransactionConflit=0.05'));
    expect(typo).toContain(
      "TWIN_FAULTS: 'dynamodb.TransactionConflit=0.05' names no dynamodb fault 'TransactionConflit'",
    );
    expect(typo).toContain('Supported names: dynamodb.[Operation.]TransactionConflict');
    expect(typo).toContain('twilio.callbackDuplicate');
    expect(errorOf(() => parse('dynamodb.GetItem.TransactionConflict=0.1'))).toContain(
      "names operation 'GetItem', where AWS does not raise TransactionConflict; it can on PutItem, UpdateItem, DeleteItem, TransactGetItems, TransactWriteItems",
    );
    expect(errorOf(() => parse('sqs.ServiceUnavailable=1.5'))).toContain(
      "'sqs.ServiceUnavailable=1.5' has rate '1.5'; a rate is a number from 0 to 1",
    );
    expect(errorOf(() => parse('sqs.ServiceUnavailable=5%'))).toContain("has rate '5%'");
    expect(errorOf(() => parse('sqs.ServiceUnavailable'))).toContain("'sqs.ServiceUnavailable' has no rate");
    expect(errorOf(() => parse('kinesis.ThrottlingException=0.1'))).toContain("names service 'kinesis'");
    expect(errorOf(() => parse('twilio.404=0.1'))).toContain(
      'is not a Twilio fault (twilio.timeout, twilio.500',
    );
    expect(errorOf(() => parse('sqs.SendMessage.PartialFailure=0.1'))).toContain(
      'it can on SendMessageBatch, DeleteMessageBatch',
    );
    expect(errorOf(() => parse('twilio.500=0.1,twilio.500=0.2'))).toBe(
      "TWIN_FAULTS names 'twilio.500' twice; give each fault one rate.",
    );
    expect(errorOf(() => parseFaultPlan('twilio.500=0.1', 'abc'))).toBe(
      "TWIN_FAULTS_SEED must be a whole number from 0 to 4294967295; got 'abc'.",
    );
  });

  it('stops npm start with a ConfigError; twilio.* faults need the simulator', () => {
    const env = { DATA_DIR: dataDir };
    expect(() => localConfigFromEnv({ ...env, TWIN_FAULTS: 'dynamodb.Nope=1' })).toThrow(ConfigError);
    expect(localConfigFromEnv(env).faults).toBeUndefined();
    const config = localConfigFromEnv({
      ...env,
      TWIN_FAULTS: 'sqs.ServiceUnavailable=0',
      TWIN_FAULTS_SEED: '9',
    });
    expect(config.faults).toEqual({
      seed: 9,
      rules: [{ name: 'sqs.ServiceUnavailable', service: 'sqs', fault: 'ServiceUnavailable', rate: 0 }],
    });
    const real = {
      ...env,
      TWILIO_ACCOUNT_SID: `AC${'1'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'token',
      TWILIO_FROM: 'whatsapp:+14155238886',
    };
    expect(errorOf(() => localConfigFromEnv({ ...real, TWIN_FAULTS: 'twilio.timeout=0.1' }))).toContain(
      'TWIN_FAULTS names twilio.timeout, but TWILIO_ACCOUNT_SID is set',
    );
    expect(
      localConfigFromEnv({ ...real, TWIN_FAULTS: 'dynamodb.InternalServerError=0.1' }).faults?.rules,
    ).toHaveLength(1);
    expect(() => localConfigFromEnv({ ...env, SIM_TIMEOUT_HOLD_MS: '-1' })).toThrow(/SIM_TIMEOUT_HOLD_MS/);
    expect(() => localConfigFromEnv({ ...env, TWILIO_TIMEOUT_MS: 'soon' })).toThrow(/TWILIO_TIMEOUT_MS/);
  });
});

describe('FaultInjector', () => {
  const draws = (plan: FaultPlan, name: string, n: number) => {
    const injector = new FaultInjector(plan);
    const rule = plan.rules.find((r) => r.name === name);
    if (!rule) throw new Error(`no rule ${name}`);
    return Array.from({ length: n }, () => injector.hit(rule));
  };

  it('replays the same decisions for the same seed, rule by rule, and others for another seed', () => {
    const spec = 'dynamodb.TransactionConflict=0.5';
    const first = draws(parse(spec, '123'), 'dynamodb.TransactionConflict', 64);
    expect(draws(parse(spec, '123'), 'dynamodb.TransactionConflict', 64)).toEqual(first);
    expect(draws(parse(spec, '124'), 'dynamodb.TransactionConflict', 64)).not.toEqual(first);
    // Adding another rule does not shift this one's decisions.
    expect(draws(parse(`twilio.500=0.5,${spec}`, '123'), 'dynamodb.TransactionConflict', 64)).toEqual(first);
  });

  it('hits at the configured rate, never at 0 and always at 1, and counts what it injected', () => {
    const hits = draws(parse('sqs.ThrottlingException=0.3'), 'sqs.ThrottlingException', 20_000).filter(
      Boolean,
    );
    expect(hits.length / 20_000).toBeGreaterThan(0.28);
    expect(hits.length / 20_000).toBeLessThan(0.32);
    expect(draws(parse('sqs.ThrottlingException=0'), 'sqs.ThrottlingException', 1000)).not.toContain(true);
    expect(draws(parse('sqs.ThrottlingException=1'), 'sqs.ThrottlingException', 1000)).not.toContain(false);

    const logged: Record<string, unknown>[] = [];
    const plan = parse('twilio.429=1,twilio.503=1');
    const injector = new FaultInjector(plan, (entry) => logged.push(entry));
    const rule = injector.firstHit(plan.rules);
    expect(rule?.name).toBe('twilio.429');
    if (rule) injector.record(rule, { call: 'create' });
    expect(injector.injected()).toEqual({ 'twilio.429': 1, 'twilio.503': 0 });
    expect(logged).toEqual([{ message: 'fault injected', fault: 'twilio.429', call: 'create' }]);
  });
});
