import { describe, expect, it } from 'vitest';
import { type GuardedResources, refusalOf } from '../lib/local/grant-guard.ts';
import { leadingKeysAllowed, stringLike, tableGrantProblems } from '../lib/table-access.ts';
import { type FunctionSpec, type Topology, topology } from '../lib/topology.ts';
import { validateTopology } from '../lib/topology-wiring.ts';

/** The twin's IAM (lib/local/grant-guard.ts): what it refuses, as IAM would, from the topology's `uses`. */

const where: GuardedResources = {
  tables: { main: 'broadcast-main' },
  queues: {
    send: { main: 'broadcast-send', deadLetter: 'broadcast-send-dlq' },
    fanOut: { main: 'broadcast-fanOut', deadLetter: 'broadcast-fanOut-dlq' },
  },
  buckets: { uploads: 'broadcast-uploads' },
  scheduleGroups: { schedules: 'broadcast-schedules' },
};

function fn(uses: FunctionSpec['uses']): FunctionSpec {
  return { entry: 'functions/healthz.ts', description: 'test', memoryMb: 128, timeoutSeconds: 3, uses };
}
const topo = (functions: Record<string, FunctionSpec>): Topology => ({ ...topology, functions });

/** The refused action, or undefined when the call is allowed. */
function refused(spec: FunctionSpec, service: Parameters<typeof refusalOf>[3], op: string, input: object) {
  return refusalOf(topo({ f: spec }), where, { functionId: 'f', spec }, service, op, input as never)?.action;
}

const T = 'broadcast-main';

describe('the grant guard refuses what IAM would', () => {
  it("keeps 'read' and 'readwrite' meaning CDK's grantReadData and grantReadWriteData", () => {
    const reader = fn({ tables: { main: 'read' } });
    expect(
      refused(reader, 'dynamodb', 'GetItem', { TableName: T, Key: { pk: 'X#1', sk: 'a' } }),
    ).toBeUndefined();
    expect(
      refused(reader, 'dynamodb', 'Query', { TableName: T, IndexName: 'contactsByName' }),
    ).toBeUndefined();
    expect(refused(reader, 'dynamodb', 'PutItem', { TableName: T, Item: { pk: 'X#1', sk: 'a' } })).toBe(
      'dynamodb:PutItem',
    );
    const writer = fn({ tables: { main: 'readwrite' } });
    expect(
      refused(writer, 'dynamodb', 'DeleteItem', { TableName: T, Key: { pk: 'X#1', sk: 'a' } }),
    ).toBeUndefined();
  });

  it('checks each item of a transaction as its own action, and a batch as the batch action', () => {
    const spec = fn({
      tables: { main: { actions: ['PutItem', 'ConditionCheckItem'], leadingKeys: ['TENANT#*'] } },
    });
    const transaction = (second: object) => ({
      TransactItems: [{ Put: { TableName: T, Item: { pk: 'TENANT#a', sk: 'x' } } }, second],
    });
    expect(
      refused(
        spec,
        'dynamodb',
        'TransactWriteItems',
        transaction({ ConditionCheck: { TableName: T, Key: { pk: 'TENANT#a', sk: 'y' } } }),
      ),
    ).toBeUndefined();
    expect(
      refused(
        spec,
        'dynamodb',
        'TransactWriteItems',
        transaction({ Delete: { TableName: T, Key: { pk: 'TENANT#a', sk: 'y' } } }),
      ),
    ).toBe('dynamodb:DeleteItem');
    // PutItem is not BatchWriteItem: IAM authorizes a batch by its own action.
    expect(
      refused(spec, 'dynamodb', 'BatchWriteItem', {
        RequestItems: { [T]: [{ PutRequest: { Item: { pk: 'TENANT#a', sk: 'x' } } }] },
      }),
    ).toBe('dynamodb:BatchWriteItem');
  });

  it('holds items to their leading-key families, every key of a batch, raw or document values', () => {
    const spec = fn({
      tables: {
        main: [
          { actions: ['GetItem', 'BatchGetItem'], leadingKeys: ['APIKEY#*', 'CONTACTS#*'] },
          { actions: ['UpdateItem'], leadingKeys: ['BROADCAST#*#S??'] },
        ],
      },
    });
    expect(
      refused(spec, 'dynamodb', 'GetItem', { TableName: T, Key: { pk: 'APIKEY#h', sk: 'APIKEY' } }),
    ).toBeUndefined();
    expect(
      refused(spec, 'dynamodb', 'GetItem', { TableName: T, Key: { pk: { S: 'TENANT#a' }, sk: { S: 'x' } } }),
    ).toBe('dynamodb:GetItem');
    expect(
      refused(spec, 'dynamodb', 'BatchGetItem', {
        RequestItems: {
          [T]: {
            Keys: [
              { pk: 'CONTACTS#a', sk: '+1' },
              { pk: 'SUPPRESS#a', sk: '+1' },
            ],
          },
        },
      }),
    ).toBe('dynamodb:BatchGetItem');
    // The recipient partitions, not the broadcast's own: a statement's actions go with its keys only.
    expect(
      refused(spec, 'dynamodb', 'UpdateItem', { TableName: T, Key: { pk: 'BROADCAST#b#S07', sk: 'R#1' } }),
    ).toBeUndefined();
    expect(
      refused(spec, 'dynamodb', 'UpdateItem', { TableName: T, Key: { pk: 'BROADCAST#b', sk: 'COUNTS#x' } }),
    ).toBe('dynamodb:UpdateItem');
    expect(
      refused(spec, 'dynamodb', 'UpdateItem', { TableName: T, Key: { pk: 'APIKEY#h', sk: 'APIKEY' } }),
    ).toBe('dynamodb:UpdateItem');
  });

  it("reads a Query's partition from its key condition, and holds index queries to the named indexes", () => {
    const spec = fn({
      tables: { main: { actions: ['Query'], indexes: ['activeBroadcasts'], leadingKeys: ['TENANT#*'] } },
    });
    const query = (pk: string, extra: object = {}) => ({
      TableName: T,
      KeyConditionExpression: '#p = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeNames: { '#p': 'pk' },
      ExpressionAttributeValues: { ':pk': pk, ':prefix': 'B' },
      ...extra,
    });
    expect(refused(spec, 'dynamodb', 'Query', query('TENANT#a'))).toBeUndefined();
    expect(refused(spec, 'dynamodb', 'Query', query('SUPPRESS#a'))).toBe('dynamodb:Query');
    expect(
      refused(spec, 'dynamodb', 'Query', { TableName: T, IndexName: 'activeBroadcasts' }),
    ).toBeUndefined();
    expect(refused(spec, 'dynamodb', 'Query', { TableName: T, IndexName: 'contactsByName' })).toBe(
      'dynamodb:Query',
    );
    expect(
      refused(spec, 'dynamodb', 'GetItem', { TableName: 'another-table', Key: { pk: 'TENANT#a' } }),
    ).toBe('dynamodb:GetItem');
  });

  it('holds queues, buckets and schedule groups to the access their uses name', () => {
    const spec = fn({
      queues: { send: 'send' },
      deadLetterQueues: { fanOut: 'depth' },
      buckets: { uploads: { read: ['imports/'] } },
      scheduleGroups: ['schedules'],
    });
    const url = (name: string) => `http://127.0.0.1:1/000000000000/${name}`;
    expect(refused(spec, 'sqs', 'SendMessageBatch', { QueueUrl: url('broadcast-send') })).toBeUndefined();
    expect(refused(spec, 'sqs', 'DeleteMessage', { QueueUrl: url('broadcast-send') })).toBe(
      'sqs:DeleteMessage',
    );
    expect(refused(spec, 'sqs', 'SendMessage', { QueueUrl: url('broadcast-fanOut') })).toBe(
      'sqs:SendMessage',
    );
    expect(
      refused(spec, 'sqs', 'GetQueueAttributes', { QueueUrl: url('broadcast-fanOut-dlq') }),
    ).toBeUndefined();
    expect(
      refused(spec, 's3', 'GetObject', { Bucket: 'broadcast-uploads', Key: 'imports/t/a.csv' }),
    ).toBeUndefined();
    expect(refused(spec, 's3', 'GetObject', { Bucket: 'broadcast-uploads', Key: 'uploads/t/a.csv' })).toBe(
      's3:GetObject',
    );
    expect(refused(spec, 's3', 'PutObject', { Bucket: 'broadcast-uploads', Key: 'imports/t/a.csv' })).toBe(
      's3:PutObject',
    );
    const copier = fn({ buckets: { uploads: { read: ['uploads/'], write: ['imports/'] } } });
    const copy = (from: string, to: string) => ({
      Bucket: 'broadcast-uploads',
      Key: to,
      CopySource: `broadcast-uploads/${from}`,
    });
    expect(
      refused(copier, 's3', 'CopyObject', copy('uploads/t/u%201.csv', 'imports/t/i.csv')),
    ).toBeUndefined();
    expect(refused(copier, 's3', 'CopyObject', copy('imports/t/i.csv', 'imports/t/j.csv'))).toBe(
      's3:GetObject',
    );
    expect(
      refused(spec, 'scheduler', 'CreateSchedule', { GroupName: 'broadcast-schedules', Name: 'x' }),
    ).toBeUndefined();
    expect(refused(spec, 'scheduler', 'CreateSchedule', { Name: 'x' })).toBe('scheduler:CreateSchedule');
    expect(
      refused(fn({}), 'scheduler', 'DeleteSchedule', { GroupName: 'broadcast-schedules', Name: 'x' }),
    ).toBe('scheduler:DeleteSchedule');
  });

  it("says who was refused what, in IAM's words, and where the grant is declared", () => {
    const spec = fn({ tables: { main: 'read' } });
    const refusal = refusalOf(
      topo({ settings: spec }),
      where,
      { functionId: 'settings', spec },
      'dynamodb',
      'UpdateItem',
      {
        TableName: T,
        Key: { pk: 'SETTINGS#acme', sk: 'SETTINGS' },
      },
    );
    expect(refusal?.message).toMatch(
      /^User: arn:aws:sts::\d{12}:assumed-role\/settings-role\/settings is not authorized to perform: dynamodb:UpdateItem on resource: arn:aws:dynamodb:[\w-]+:\d{12}:table\/broadcast-main .*lib\/topology\.ts: settings\.uses/,
    );
  });
});

describe("IAM's StringLike and ForAllValues, as the guard applies them", () => {
  it('matches * across # and ? as one character, literally otherwise', () => {
    expect(stringLike('BROADCAST#*', 'BROADCAST#b1#S03')).toBe(true);
    expect(stringLike('BROADCAST#*#S??', 'BROADCAST#b1')).toBe(false);
    expect(stringLike('GROUP#*', 'GROUPS#t')).toBe(false);
    expect(stringLike('A.B#*', 'AXB#1')).toBe(false);
    // ForAllValues over no keys (a Scan) holds: why grants with leadingKeys may not name Scan.
    expect(leadingKeysAllowed(['TENANT#*'], [])).toBe(true);
    expect(leadingKeysAllowed(['TENANT#*'], ['TENANT#a', 'FP#a'])).toBe(false);
  });

  it('refuses a topology whose grants would not hold', () => {
    const table = topology.tables.main;
    expect(
      tableGrantProblems('f', 'main', { actions: ['Scan', 'GetItem'], leadingKeys: ['TENANT#*'] }, table),
    ).toEqual(['f: Scan on table main is not limited by leadingKeys; grant it apart']);
    expect(tableGrantProblems('f', 'main', { actions: ['GetItem'], indexes: ['nope'] }, table)).toEqual([
      'f queries unknown index nope of table main',
      'f names indexes of table main but not the Query action',
    ]);
    expect(tableGrantProblems('f', 'main', { actions: ['GetItem'], leadingKeys: ['*'] }, table)).toHaveLength(
      1,
    );
    expect(() =>
      validateTopology(topo({ f: fn({ tables: { main: { actions: ['Query'], indexes: ['nope'] } } }) })),
    ).toThrow(/unknown index nope/);
  });
});
