import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CfnResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BroadcastStack } from '../lib/stack.ts';
import { topology } from '../lib/topology.ts';
import { testApp } from './support/cdk-app.ts';

/** The schedule group on AWS: EventBridge Scheduler's group, its invoke role, its DLQ, and who may use them. */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cdkJsonContext = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: object })
  .context;
type Json = Record<string, unknown>;

let stack: BroadcastStack;
let template: Template;
beforeAll(() => {
  const app = testApp({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
  stack = new BroadcastStack(app, 'Sched');
  template = Template.fromStack(stack);
}, 60_000);

const idOf = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);
const roleId = () => idOf(stack.node.findChild('SchedulesSchedulerRole') as never);
const dlqId = () => idOf(stack.node.findChild('SchedulesScheduleDeadLetterQueue') as never);

/** The statements of the policies attached to a role. */
function statementsOf(role: string): Json[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter(
      (p) =>
        JSON.stringify((p as Json & { Properties: Json }).Properties.Roles) ===
        JSON.stringify([{ Ref: role }]),
    )
    .flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Json[] } } }).Properties.PolicyDocument.Statement,
    );
}

describe('the schedule group', () => {
  it('is an AWS::Scheduler::ScheduleGroup named after the stack', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'Sched-schedules' });
  });

  it('has a role only Scheduler of this account assumes, which invokes the run function and writes the DLQ, nothing else', () => {
    const role = template.toJSON().Resources[roleId()] as { Properties: Json };
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        },
      ],
    });
    const statements = statementsOf(roleId());
    const runFn = idOf(stack.functions.runSchedules?.function as never);
    expect(statements.filter((s) => s.Action === 'lambda:InvokeFunction')).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [runFn, 'Arn'] } },
    ]);
    const actions = statements.flatMap((s) => ([] as string[]).concat(s.Action as string));
    expect(actions.filter((a) => !a.startsWith('sqs:')).sort()).toEqual(['lambda:InvokeFunction']);
    for (const s of statements.filter((st) => JSON.stringify(st.Action).includes('sqs:')))
      expect(s.Resource).toEqual({ 'Fn::GetAtt': [dlqId(), 'Arn'] });
  });

  it('alarms when a firing lands in its dead-letter queue (encrypted, TLS only)', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('schedules.*could not be delivered to runSchedules'),
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId(), 'QueueName'] } }],
    });
  });

  it('lets exactly the functions that use it manage its schedules and pass its role (to Scheduler only), and tells them where', () => {
    const users = Object.entries(topology.functions)
      .filter(
        ([, spec]) => ((spec.uses as { scheduleGroups?: readonly string[] }).scheduleGroups ?? []).length > 0,
      )
      .map(([id]) => id)
      .sort();
    expect(users).toEqual(['campaigns', 'createBroadcast', 'manageBroadcasts']);
    for (const [fnId, built] of Object.entries(stack.functions)) {
      const statements = statementsOf(idOf(built.role as never));
      const scheduler = statements.filter((s) => JSON.stringify(s.Action).includes('scheduler:'));
      const passRole = statements.filter((s) => s.Action === 'iam:PassRole');
      if (!users.includes(fnId)) {
        expect(scheduler, fnId).toEqual([]);
        expect(passRole, fnId).toEqual([]);
        continue;
      }
      expect(scheduler).toEqual([
        {
          Action: [
            'scheduler:CreateSchedule',
            'scheduler:DeleteSchedule',
            'scheduler:GetSchedule',
            'scheduler:UpdateSchedule',
          ],
          Effect: 'Allow',
          Resource: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':scheduler:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':schedule/Sched-schedules/*',
              ],
            ],
          },
        },
      ]);
      expect(passRole).toEqual([
        {
          Action: 'iam:PassRole',
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [roleId(), 'Arn'] },
          Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        },
      ]);
      const fn = template.toJSON().Resources[idOf(built.function as never)] as {
        Properties: { Environment: { Variables: Json } };
      };
      expect(fn.Properties.Environment.Variables).toMatchObject({
        SCHEDULE_GROUP_NAME: 'Sched-schedules',
        SCHEDULE_TARGET_ARN: { 'Fn::GetAtt': [idOf(stack.functions.runSchedules?.function as never), 'Arn'] },
        SCHEDULER_ROLE_ARN: { 'Fn::GetAtt': [roleId(), 'Arn'] },
        SCHEDULE_DLQ_ARN: { 'Fn::GetAtt': [dlqId(), 'Arn'] },
      });
    }
  });
});
