import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { pascal } from './output-names.ts';
import type { ScheduleGroupSpec } from './topology.ts';

/**
 * The stack's EventBridge Scheduler schedule groups (lib/topology.ts `scheduleGroups`): the group,
 * the role Scheduler assumes for its schedules, their dead-letter queue (with an alarm), and the
 * grants of the functions that create schedules in it. The schedules themselves are made at run time
 * (one per campaign, one per scheduled broadcast: functions/adapters/eventbridge-schedules.ts).
 */
export interface BuiltScheduleGroup {
  readonly group: scheduler.CfnScheduleGroup;
  readonly name: string;
  /** Assumed by Scheduler (scheduler.amazonaws.com, this account only) to invoke the target. */
  readonly role: iam.Role;
  readonly deadLetterQueue: sqs.Queue;
}

export function createScheduleGroup(
  scope: Construct,
  groupId: string,
  spec: ScheduleGroupSpec,
): BuiltScheduleGroup {
  const stack = Stack.of(scope);
  const name = `${stack.stackName}-${groupId}`;
  const group = new scheduler.CfnScheduleGroup(scope, `${pascal(groupId)}ScheduleGroup`, { name });
  const deadLetterQueue = new sqs.Queue(scope, `${pascal(groupId)}ScheduleDeadLetterQueue`, {
    retentionPeriod: Duration.days(spec.deadLetter.retentionDays),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
  Validations.of(deadLetterQueue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      "This queue is itself the dead-letter queue of the group's schedules (their Target.DeadLetterConfig)",
  });
  new cloudwatch.Alarm(scope, `${pascal(groupId)}ScheduleDeadLetterAlarm`, {
    alarmDescription: `Firings of the ${groupId} schedules (campaign runs, scheduled broadcasts' starts) that could not be delivered to ${spec.target} after its retries: each message is the firing's input`,
    metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  // The confused-deputy guard AWS recommends for Scheduler's execution role: only schedules of this
  // account may assume it ("Set up the execution role", EventBridge Scheduler User Guide).
  const role = new iam.Role(scope, `${pascal(groupId)}SchedulerRole`, {
    description: `Assumed by EventBridge Scheduler to invoke ${spec.target} for the ${groupId} schedules`,
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
  });
  // Scheduler sends an undeliverable firing to the DLQ with the schedule's role.
  deadLetterQueue.grantSendMessages(role);
  return { group, name, role, deadLetterQueue };
}

/** The group's role may invoke the target function, and nothing else (its unqualified ARN only). */
export function allowTarget(built: BuiltScheduleGroup, target: lambda.IFunction): void {
  built.role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [target.functionArn] }),
  );
}

/**
 * A function that manages the group's schedules: Create/Update/Delete/GetSchedule on the group's
 * schedules only, and iam:PassRole of the group's role to Scheduler only.
 */
export function grantScheduleGroup(scope: Construct, role: iam.IRole, built: BuiltScheduleGroup): void {
  const stack = Stack.of(scope);
  const schedules = stack.formatArn({
    service: 'scheduler',
    resource: 'schedule',
    resourceName: `${built.name}/*`,
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: [
        'scheduler:CreateSchedule',
        'scheduler:UpdateSchedule',
        'scheduler:DeleteSchedule',
        'scheduler:GetSchedule',
      ],
      resources: [schedules],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [built.role.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    }),
  );
}

/** The cdk-nag finding of a function's grant on the group's schedules (names unknown until runtime). */
export const SCHEDULES_GRANT_REASON =
  "The schedules of this stack's one schedule group; their names (campaign and broadcast ids) are made at runtime";
