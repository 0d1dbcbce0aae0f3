import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App, CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECRET_PREFIX_ACTIONS } from '../lib/secret-prefixes.ts';
import { BroadcastStack } from '../lib/stack.ts';
import { topology } from '../lib/topology.ts';
import { testApp } from './support/cdk-app.ts';

/** Tenants' own Twilio secrets on AWS: IAM on the stack's name prefix only, read or write as declared. */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cdkJsonContext = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: object })
  .context;

type Json = Record<string, unknown>;
let app: App;
let stack: BroadcastStack;
let template: Template;

beforeAll(() => {
  app = testApp({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
  stack = new BroadcastStack(app, 'Senders', { console: false });
  template = Template.fromStack(stack);
}, 120_000);

/** The Secrets Manager statements of a function's role: actions and resources. */
function secretGrants(fnId: string): { actions: string[]; resources: string }[] {
  const role = stack.functions[fnId]?.role;
  if (!role) throw new Error(`no function ${fnId}`);
  const roleId = stack.getLogicalId(role.node.defaultChild as CfnResource);
  return (Object.values(template.findResources('AWS::IAM::Policy')) as Json[])
    .filter((p) => JSON.stringify((p.Properties as Json).Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((p) => ((p.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement)
    .map((s) => ({
      actions: ([] as string[]).concat(s.Action as string[]),
      resources: JSON.stringify(s.Resource),
    }))
    .filter((s) => s.actions.some((a) => a.startsWith('secretsmanager:')));
}

const PREFIX_ARN = ':secret:Senders/tenantTwilio/*';

describe("tenants' Twilio secrets", () => {
  it('lets the settings function write, and the Twilio callers read, only the secrets under the prefix', () => {
    for (const [fnId, spec] of Object.entries(topology.functions)) {
      const access = (spec.uses as { secretPrefixes?: Record<string, 'read' | 'write'> }).secretPrefixes
        ?.tenantTwilio;
      const onPrefix = secretGrants(fnId).filter((s) => s.resources.includes(PREFIX_ARN));
      if (!access) {
        expect(onPrefix, fnId).toEqual([]);
        continue;
      }
      expect(onPrefix.flatMap((s) => s.actions).sort(), fnId).toEqual(
        [...SECRET_PREFIX_ACTIONS[access]].sort(),
      );
      // The prefix's ARN pattern, in this stack's partition, region and account (CDK merges it into the
      // statement of the deployment secret's read when the actions are the same).
      const resources = onPrefix.flatMap((g) => [JSON.parse(g.resources)].flat() as unknown[]);
      expect(resources, fnId).toContainEqual({
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':secretsmanager:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            PREFIX_ARN,
          ],
        ],
      });
    }
    expect(SECRET_PREFIX_ACTIONS.write).toContain('secretsmanager:CreateSecret');
    expect(secretGrants('settings').flatMap((s) => s.actions)).toContain('secretsmanager:CreateSecret');
    expect(secretGrants('sendMessages').flatMap((s) => s.actions)).not.toContain(
      'secretsmanager:PutSecretValue',
    );
    // No secretsmanager grant anywhere on a wildcard broader than a secret or the prefix.
    for (const fnId of Object.keys(topology.functions))
      for (const grant of secretGrants(fnId)) expect(grant.resources, fnId).not.toMatch(/:secret:\*"|"\*"/);
  });

  it('tells the functions the prefix their secrets are named under', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: topology.functions.settings.description,
      Environment: { Variables: { TENANT_SECRETS_PREFIX: 'Senders/tenantTwilio/' } },
    });
  });

  it('stays cdk-nag clean: the prefix wildcard is acknowledged with its reason, per role', () => {
    const findings = new AwsSolutionsChecks(app)
      .validateScope(app)
      .violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath)}`);
    expect(findings).toEqual([]);
  });
});
