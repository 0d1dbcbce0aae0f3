import { Aws, CfnOutput, Duration, type Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../functions/core/service-metrics.ts';
import { serviceMetric } from './alarms.ts';

/** The statuses a status callback reports (core/statuses.ts ProviderReportedStatus). */
const CALLBACK_STATUSES = ['sent', 'delivered', 'read', 'failed', 'undelivered'] as const;
/** Graphs' period: one minute shows a broadcast's ramp and the sender's rate. */
const PERIOD = Duration.minutes(1);
/** Cost graphs' period: an hour, as the bills add up. */
const COST_PERIOD = Duration.hours(1);

export interface DashboardProps {
  /** Every function, with the memory it was given (for GB-seconds). */
  readonly functions: Readonly<
    Record<string, { readonly function: lambda.IFunction; readonly memoryMb: number }>
  >;
  /** Every queue to watch, by a readable name (main queues and dead-letter queues). */
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  readonly tables: Readonly<Record<string, dynamodb.ITable>>;
  readonly api: apigw.HttpApi;
  /** SENDER_MPS: the sender's messages per second, drawn as the line sends must stay under. */
  readonly senderMps: number;
  readonly serviceName: string;
}

/**
 * The operations dashboard (CloudWatch, $3 a month beyond the account's first three): sends per second
 * against the sender's limit, outcomes by status and by Twilio error code, create → first send
 * latency, queue depths (dead-letter queues included), and what the bill is made of. Its URL is the
 * DashboardUrl output.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Stack, id: string, props: DashboardProps) {
    super(scope, id);
    const metric = (
      name: Parameters<typeof serviceMetric>[1],
      extra: Parameters<typeof serviceMetric>[2] = {},
    ) => serviceMetric(props.serviceName, name, { period: PERIOD, ...extra });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${scope.stackName}-operations`,
      defaultInterval: Duration.hours(3),
    });

    const sendsPerSecond = new cloudwatch.MathExpression({
      expression: 'FILL(sent, 0) / PERIOD(sent)',
      usingMetrics: { sent: metric('MessagesSent') },
      label: 'Messages sent per second',
      period: PERIOD,
    });
    const rateLimitedPerSecond = new cloudwatch.MathExpression({
      expression: 'FILL(limited, 0) / PERIOD(limited)',
      usingMetrics: { limited: metric('ProviderRateLimited') },
      label: 'Twilio 429s per second',
      period: PERIOD,
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Sends per second against the sender's limit (SENDER_MPS)",
        width: 12,
        left: [sendsPerSecond, rateLimitedPerSecond],
        right: [
          metric('PacedWaits', { label: 'Paced waits per minute (tasks put back for a slot)' }),
          metric('MissedSendSlots', {
            label: 'Missed send slots per minute (a send too late for its slot, the sender busy)',
          }),
        ],
        leftAnnotations: [{ value: props.senderMps, label: `Sender limit: ${props.senderMps}/s` }],
        leftYAxis: { min: 0 },
      }),
      new cloudwatch.GraphWidget({
        title: 'Outcomes: status callbacks by status',
        width: 12,
        left: CALLBACK_STATUSES.map((status) =>
          metric('StatusCallbacks', { dimensions: { Status: status }, label: status }),
        ),
        stacked: true,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Failed messages by Twilio error code',
        width: 12,
        left: [
          new cloudwatch.MathExpression({
            // Every ErrorCode seen, without listing them (the codes are Twilio's).
            expression: `SEARCH('{${METRICS_NAMESPACE},ErrorCode,service} MetricName="MessagesFailed" service="${props.serviceName}"', 'Sum', ${PERIOD.toSeconds()})`,
            label: '',
            period: PERIOD,
          }),
        ],
        stacked: true,
      }),
      new cloudwatch.GraphWidget({
        title: 'Retries, auth failures, stuck broadcasts',
        width: 12,
        left: [
          metric('RetriesScheduled', { label: 'Retries scheduled' }),
          metric('TwilioAuthFailures', {
            dimensions: { Source: 'rest' },
            label: 'Twilio refused credentials',
          }),
          metric('TwilioAuthFailures', {
            dimensions: { Source: 'webhook' },
            label: 'Webhook signature refused',
          }),
          metric('StuckBroadcasts', { statistic: 'Maximum', label: 'Stuck broadcasts' }),
        ],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Create → first send (ms)',
        width: 12,
        left: ['p50', 'p90', 'Maximum'].map((statistic) =>
          metric('FirstSendLatency', { statistic, label: statistic }),
        ),
        leftYAxis: { min: 0 },
      }),
      new cloudwatch.GraphWidget({
        title: 'Queue depths (messages visible; dead-letter queues should stay at 0)',
        width: 12,
        left: Object.entries(props.queues).map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({
            period: PERIOD,
            statistic: 'Maximum',
            label: name,
          }),
        ),
      }),
    );

    const functions = Object.entries(props.functions);
    const gbSeconds = Object.fromEntries(
      functions.map(([fnId, { function: fn }], n) => [
        `d${n}`,
        fn.metricDuration({ period: COST_PERIOD, statistic: 'Sum', label: fnId }),
      ]),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Cost drivers: Lambda invocations and GB-seconds (per hour)',
        width: 12,
        left: [
          new cloudwatch.MathExpression({
            expression: `SUM([${functions.map((_, n) => `FILL(i${n}, 0)`).join(', ')}])`,
            usingMetrics: Object.fromEntries(
              functions.map(([, { function: fn }], n) => [
                `i${n}`,
                fn.metricInvocations({ period: COST_PERIOD, statistic: 'Sum' }),
              ]),
            ),
            label: 'Invocations',
            period: COST_PERIOD,
          }),
        ],
        right: [
          new cloudwatch.MathExpression({
            // Duration is milliseconds; GB-s = ms / 1000 × memory MB / 1024.
            expression: `SUM([${functions.map(([, { memoryMb }], n) => `FILL(d${n}, 0) * ${memoryMb / 1024 / 1000}`).join(', ')}])`,
            usingMetrics: gbSeconds,
            label: 'GB-seconds',
            period: COST_PERIOD,
          }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Cost drivers: DynamoDB units, API requests, SQS requests (per hour)',
        width: 12,
        left: [
          ...Object.entries(props.tables).flatMap(([name, table]) => [
            table.metricConsumedReadCapacityUnits({
              period: COST_PERIOD,
              statistic: 'Sum',
              label: `${name} read units`,
            }),
            table.metricConsumedWriteCapacityUnits({
              period: COST_PERIOD,
              statistic: 'Sum',
              label: `${name} write units`,
            }),
          ]),
          props.api.metricCount({ period: COST_PERIOD, statistic: 'Sum', label: 'API requests' }),
        ],
        right: [sqsRequests(props.queues)],
      }),
    );

    const region = Aws.REGION;
    new CfnOutput(scope, 'DashboardUrl', {
      value: `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboardName}`,
      description:
        'The operations dashboard: sends against the sender limit, outcomes, latency, queues, cost drivers',
    });
  }
}

/** Every queue to watch by a readable name: each main queue, its dead-letter queue, the schedules' DLQs. */
export function watchedQueues(
  queues: Readonly<Record<string, { readonly queue: sqs.IQueue; readonly deadLetterQueue: sqs.IQueue }>>,
  scheduleGroups: Readonly<Record<string, { readonly deadLetterQueue: sqs.IQueue }>>,
): Record<string, sqs.IQueue> {
  return {
    ...Object.fromEntries(
      Object.entries(queues).flatMap(([queueId, pair]) => [
        [queueId, pair.queue],
        [`${queueId} DLQ`, pair.deadLetterQueue],
      ]),
    ),
    ...Object.fromEntries(
      Object.entries(scheduleGroups).map(([groupId, group]) => [
        `${groupId} schedule DLQ`,
        group.deadLetterQueue,
      ]),
    ),
  };
}

/**
 * SQS bills each request: messages sent, received (receives that found nothing included) and deleted,
 * summed over the queues (an estimate: a batch call counts once per message here).
 */
function sqsRequests(queues: Readonly<Record<string, sqs.IQueue>>): cloudwatch.MathExpression {
  const usingMetrics: Record<string, cloudwatch.IMetric> = {};
  const terms: string[] = [];
  Object.values(queues).forEach((queue, n) => {
    const options = { period: COST_PERIOD, statistic: 'Sum' };
    usingMetrics[`s${n}`] = queue.metricNumberOfMessagesSent(options);
    usingMetrics[`r${n}`] = queue.metricNumberOfMessagesReceived(options);
    usingMetrics[`x${n}`] = queue.metricNumberOfMessagesDeleted(options);
    usingMetrics[`e${n}`] = queue.metricNumberOfEmptyReceives(options);
    terms.push(`FILL(s${n}, 0)`, `FILL(r${n}, 0)`, `FILL(x${n}, 0)`, `FILL(e${n}, 0)`);
  });
  return new cloudwatch.MathExpression({
    expression: `SUM([${terms.join(', ')}])`,
    usingMetrics,
    label: 'SQS requests',
    period: COST_PERIOD,
  });
}
