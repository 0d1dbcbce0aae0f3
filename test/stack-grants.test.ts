import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BroadcastStack } from '../lib/stack.ts';
import { resolveTableGrants, WRITE_ACTIONS } from '../lib/table-access.ts';
import { type DynamoAction, type TableAccess, topology } from '../lib/topology.ts';
import { testApp } from './support/cdk-app.ts';

/**
 * Each function's IAM policy on the main table is what its topology `uses.tables` declares
 * (lib/table-grants.ts): the actions, the indexes by name, the item families as a
 * dynamodb:LeadingKeys condition, one statement per grant, and nothing else.
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const context = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: object }).context;

type Json = Record<string, unknown>;
interface Statement {
  readonly actions: string[];
  readonly resource: string;
  readonly leadingKeys?: string[];
}

let stack: BroadcastStack;
let template: Template;
let tableArn: string;

beforeAll(() => {
  const app = testApp({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  stack = new BroadcastStack(app, 'Grants', { console: false });
  template = Template.fromStack(stack);
  const table = stack.tables.main;
  if (!table) throw new Error('no main table');
  tableArn = JSON.stringify({
    'Fn::GetAtt': [stack.getLogicalId(table.node.defaultChild as CfnResource), 'Arn'],
  });
}, 60_000);

/** The role's DynamoDB statements, one per resource, with their leading-key patterns. */
function dynamoStatements(fnId: string): Statement[] {
  const fn = stack.functions[fnId];
  if (!fn) throw new Error(`no function ${fnId}`);
  const roleId = stack.getLogicalId(fn.role.node.defaultChild as CfnResource);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter(
      (p) =>
        JSON.stringify((p as Json).Properties && ((p as Json).Properties as Json).Roles) ===
        JSON.stringify([{ Ref: roleId }]),
    )
    .flatMap((p) => (((p as Json).Properties as Json).PolicyDocument as { Statement: Json[] }).Statement)
    .filter((s) => ([] as string[]).concat(s.Action as string).some((a) => a.startsWith('dynamodb:')))
    .flatMap((s) =>
      ([] as unknown[]).concat(s.Resource).map((resource) => {
        const condition = (s.Condition as Json | undefined)?.['ForAllValues:StringLike'] as Json | undefined;
        const keys = condition?.['dynamodb:LeadingKeys'];
        return {
          actions: ([] as string[]).concat(s.Action as string).sort(),
          resource: JSON.stringify(resource),
          ...(keys ? { leadingKeys: ([] as string[]).concat(keys as string).sort() } : {}),
        };
      }),
    );
}

const fineGrained = Object.entries(topology.functions).filter(([, spec]) => {
  const access = (spec.uses as { tables?: Record<string, unknown> }).tables?.main;
  return access !== undefined && access !== 'read' && access !== 'readwrite';
});
/** Each (action, resource, leading keys) a list of statements allows, sorted and once. */
const permissions = (list: Statement[]) =>
  [
    ...new Set(
      list.flatMap((s) =>
        s.actions.map((a) => `${a} ${s.resource} ${s.leadingKeys?.join(',') ?? '(any item)'}`),
      ),
    ),
  ].sort();
const writes = (s: Statement) =>
  s.actions.filter((a) => WRITE_ACTIONS.has(a.replace('dynamodb:', '') as DynamoAction));

describe('grants on the main table', () => {
  it('gives each function exactly the statements its topology declares, and no other DynamoDB permission', () => {
    expect(fineGrained.length).toBeGreaterThan(20);
    for (const [fnId, spec] of fineGrained) {
      const access = (spec.uses as { tables?: Record<string, TableAccess> }).tables?.main ?? 'read';
      const expected: Statement[] = resolveTableGrants(access, topology.tables.main).flatMap((grant) => [
        {
          actions: grant.actions.map((a) => `dynamodb:${a}`).sort(),
          resource: tableArn,
          ...(grant.leadingKeys ? { leadingKeys: [...grant.leadingKeys].sort() } : {}),
        },
        ...grant.indexes.map((index) => ({
          actions: grant.actions
            .filter((a) => a === 'Query' || a === 'Scan')
            .map((a) => `dynamodb:${a}`)
            .sort(),
          resource: JSON.stringify({ 'Fn::Join': ['', [JSON.parse(tableArn), `/index/${index}`]] }),
        })),
      ]);
      // A stream consumer's event source mapping reads the table's stream with the function's role.
      if (topology.streamConsumers.some((c) => c.function === fnId)) {
        const streamArn = tableArn.replace('"Arn"', '"StreamArn"');
        for (const action of ['DescribeStream', 'GetRecords', 'GetShardIterator'])
          expected.push({ actions: [`dynamodb:${action}`], resource: streamArn });
        expected.push({ actions: ['dynamodb:ListStreams'], resource: '"*"' });
      }
      // CDK merges statements with the same resource and condition: compare what they allow.
      expect(permissions(dynamoStatements(fnId)), fnId).toEqual(permissions(expected));
    }
  });

  it("lets the read routes read, and write nothing but the admin route's own items and the settle of a finished broadcast", () => {
    // Every admin route notes its key's use, counts its tenant's rate window, appends an audit entry
    // after a write, and adopts a key made before key ids (ADMIN_AUTH): nothing of the tenant's data.
    const adminBookkeeping = new Set(['APIKEY#*', 'APIKEYS#*', 'RATE#*', 'AUDIT#*']);
    for (const fnId of ['previewBroadcast', 'templates', 'healthz', 'metrics'])
      for (const s of dynamoStatements(fnId).filter((s) => writes(s).length > 0))
        expect(
          s.leadingKeys?.filter((k) => !adminBookkeeping.has(k)),
          `${fnId} ${s.actions}`,
        ).toEqual([]);
    // GET /v1/broadcasts… settles a broadcast whose counts are final: UpdateItem of the broadcast item only.
    const queryWrites = dynamoStatements('queryBroadcasts').filter(
      (s) => writes(s).length > 0 && !s.leadingKeys?.some((k) => adminBookkeeping.has(k)),
    );
    expect(queryWrites).toEqual([
      { actions: ['dynamodb:UpdateItem'], resource: tableArn, leadingKeys: ['TENANT#*'] },
    ]);
  });

  it('never lets a Twilio webhook or callback retry delete or batch-write, nor touch API keys or change settings', () => {
    for (const fnId of ['twilioStatusWebhook', 'retryStatusCallbacks', 'sendMessages']) {
      const statements = dynamoStatements(fnId);
      const actions = statements.flatMap((s) => s.actions);
      expect(actions, fnId).not.toContain('dynamodb:DeleteItem');
      expect(actions, fnId).not.toContain('dynamodb:BatchWriteItem');
      for (const s of statements) {
        expect(s.leadingKeys, `${fnId} ${s.actions}`).toBeDefined();
        expect(s.leadingKeys, fnId).not.toContain('APIKEY#*');
        // They read which account and sender a tenant uses (SETTINGS#<tenant>/TWILIO); never write it.
        if (writes(s).length > 0) expect(s.leadingKeys, fnId).not.toContain('SETTINGS#*');
      }
    }
  });

  it('holds every admin function but apiKeys to reading its key item and noting its use, and every table statement to item families', () => {
    const adminFunctions = new Set(topology.routes.filter((r) => r.auth === 'admin').map((r) => r.function));
    adminFunctions.delete('apiKeys');
    for (const fnId of adminFunctions) {
      const statements = dynamoStatements(fnId);
      const keyStatements = statements.filter((s) => s.leadingKeys?.includes('APIKEY#*'));
      // No PutItem on APIKEY#: only the apiKeys function (and the operator's CLI) makes keys.
      expect(keyStatements, fnId).toEqual([
        { actions: ['dynamodb:GetItem'], resource: tableArn, leadingKeys: ['APIKEY#*'] },
        {
          actions: ['dynamodb:UpdateItem'],
          resource: tableArn,
          leadingKeys: ['APIKEY#*', 'APIKEYS#*', 'RATE#*'],
        },
      ]);
    }
    for (const [fnId] of fineGrained)
      for (const s of dynamoStatements(fnId).filter((s) => s.resource === tableArn)) {
        expect(s.leadingKeys, `${fnId} ${s.actions}`).toBeDefined();
        // Scan is never granted: ForAllValues over a request naming no key would let it read everything.
        expect(s.actions, fnId).not.toContain('dynamodb:Scan');
      }
  });

  it('keeps every role policy well under IAM inline policy size limit (10,240 characters per role)', () => {
    for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
      const document = ((policy as Json).Properties as Json).PolicyDocument;
      // Tokens become ARNs of about the same length at deploy; half the limit leaves room for growth.
      expect(JSON.stringify(document).length).toBeLessThan(5_120);
    }
  });
});
