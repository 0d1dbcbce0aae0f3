import { Aspects, CfnOutput, Duration, type IAspect, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct, type IConstruct } from 'constructs';
import {
  METRIC_SPECS,
  METRICS_NAMESPACE,
  type MetricDimensions,
  type MetricName,
} from '../functions/core/service-metrics.ts';
import { pascal } from './output-names.ts';

/**
 * Alarms that reach someone: one SNS topic (an email subscription from `-c alarmEmail=…`), and every
 * CloudWatch alarm of the stack, those made here and those made anywhere else in it, notifying it
 * when it goes into ALARM and when it is OK again (an Aspect adds the actions at synth, so an alarm
 * added later by another module is covered too). The runbook (what each means, what to do) is in
 * the README's operations section.
 *
 * Thresholds are named below, each with its reason.
 */

/** Every alarm's period: long enough to smooth a burst, short enough to hear of an outage in minutes. */
export const ALARM_PERIOD = Duration.minutes(5);

/**
 * A function's unhandled errors (a crash, a timeout, running out of memory) in each of 2 consecutive
 * periods. The handlers answer every expected failure themselves (an API error, a batch item
 * failure), so a Lambda error is a defect or an outage; a lone timeout that the queue's redelivery
 * recovers does not wake anyone, a repeating one does.
 */
export const FUNCTION_ERRORS_THRESHOLD = 1;
export const FUNCTION_ERRORS_PERIODS = 2;
/**
 * Any throttle. The topology caps every queue consumer's concurrency below what Lambda allows, so a
 * throttle means the account's concurrency is used up (new accounts start at 10): API calls then fail
 * and webhooks are refused.
 */
export const FUNCTION_THROTTLES_THRESHOLD = 1;
/**
 * The HTTP API's 5xx answers as a percentage of its requests, for 2 consecutive periods, once there are
 * at least API_MIN_REQUESTS requests in a period (one 500 among three requests is not a rate).
 */
export const API_5XX_RATE_PERCENT = 5;
export const API_MIN_REQUESTS = 20;
/**
 * Failed messages (refused at send, or failed/undelivered by callback) per message Twilio accepted,
 * in percent, once at least SEND_MIN_MESSAGES were sent in the period. A cold or stale list fails
 * 5–15 % (numbers not on WhatsApp, 63024; invalid numbers, 21211); above 20 % something besides the
 * list is wrong: a template Meta paused (63049), the sender's quality rating, a wrong template.
 */
export const SEND_FAILURE_RATE_PERCENT = 20;
export const SEND_MIN_MESSAGES = 50;
/**
 * Any broadcast the sweeper finds stalled: it counts one only after SWEEP_STALE_SECONDS (15 minutes)
 * without progress while recipients are queued or sending, far past the recovery bound of
 * functions/core/recovery.ts (a crashed send is back on the path within the queue's 60 s visibility
 * timeout). So each one means a lost message or lost callbacks the fast path did not recover.
 */
export const STUCK_BROADCASTS_THRESHOLD = 1;
/** Any 20003/401 from Twilio's API: the stored auth token is wrong, and every send is refused. */
export const TWILIO_REST_AUTH_FAILURES_THRESHOLD = 1;
/**
 * Webhooks refused for their X-Twilio-Signature, per period. A stray request (a scanner trying the
 * public URL) should not page anyone; a token rotated in Twilio but not in the secret fails every
 * callback, about three per message sent, hundreds a minute.
 */
export const TWILIO_WEBHOOK_AUTH_FAILURES_THRESHOLD = 10;

export interface AlarmsProps {
  /** Where notifications go (an email subscription, confirmed by the recipient); none: the topic only. */
  readonly alarmEmail?: string | undefined;
  /** Every function of the topology, by its topology id. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly api: apigw.HttpApi;
  /** The functions' POWERTOOLS_SERVICE_NAME: the `service` dimension of the EMF metrics. */
  readonly serviceName: string;
}

/** One of the service's EMF metrics (functions/core/service-metrics.ts) as CloudWatch has it. */
export function serviceMetric<K extends MetricName>(
  serviceName: string,
  name: K,
  options: {
    dimensions?: Partial<MetricDimensions[K]>;
    statistic?: string;
    period?: Duration;
    label?: string;
  } = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: serviceName, ...(options.dimensions as Record<string, string>) },
    statistic: options.statistic ?? (METRIC_SPECS[name].unit === 'Count' ? 'Sum' : 'p50'),
    period: options.period ?? ALARM_PERIOD,
    ...(options.label ? { label: options.label } : {}),
  });
}

export class ServiceAlarms extends Construct {
  readonly topic: sns.Topic;
  /** The alarms made here (the stack's others notify the topic too). */
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Stack, id: string, props: AlarmsProps) {
    super(scope, id);
    // SNS3 (TLS only) and SNS2 (encrypted at rest) of cdk-nag. CloudWatch cannot publish to a topic
    // encrypted with the AWS-managed SNS key (its policy cannot name CloudWatch), so the key is the
    // stack's own ($1 a month), rotated yearly, usable by CloudWatch for this topic only.
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the alarm topic; CloudWatch alarms may use it to publish',
      enableKeyRotation: true,
      // It encrypts notifications in transit through SNS only, nothing kept: `cdk destroy` schedules its
      // deletion (7 days, KMS's shortest) rather than leave a key billed $1 a month for ever.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': scope.account } },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'WhatsApp broadcast alarms',
      enforceSSL: true,
      masterKey: key,
    });
    const email = checkAlarmEmail(props.alarmEmail);
    if (email) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    new CfnOutput(scope, 'AlarmTopicArn', {
      value: this.topic.topicArn,
      description: email
        ? `Alarms go to ${email} (confirm the email AWS sends) and to any other subscriber of this topic`
        : 'No alarmEmail given: subscribe with aws sns subscribe --topic-arn <this> --protocol email --notification-endpoint you@example.com',
    });

    for (const [fnId, fn] of Object.entries(props.functions)) {
      const name = pascal(fnId);
      this.#alarm(`${name}ErrorsAlarm`, {
        alarmDescription: `${fnId} failed with an unhandled error (crash, timeout, out of memory) in ${FUNCTION_ERRORS_PERIODS} periods of 5 minutes in a row`,
        metric: fn.metricErrors({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
        threshold: FUNCTION_ERRORS_THRESHOLD,
        evaluationPeriods: FUNCTION_ERRORS_PERIODS,
      });
      this.#alarm(`${name}ThrottlesAlarm`, {
        alarmDescription: `${fnId} was throttled: the account's Lambda concurrency is used up`,
        metric: fn.metricThrottles({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
        threshold: FUNCTION_THROTTLES_THRESHOLD,
        evaluationPeriods: 1,
      });
    }

    this.#alarm('Api5xxRateAlarm', {
      alarmDescription: `At least ${API_5XX_RATE_PERCENT} % of the HTTP API's answers were 5xx, 2 periods of 5 minutes in a row (from ${API_MIN_REQUESTS} requests a period)`,
      metric: new cloudwatch.MathExpression({
        expression: `IF(requests >= ${API_MIN_REQUESTS}, 100 * errors / requests, 0)`,
        usingMetrics: {
          errors: props.api.metricServerError({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
          requests: props.api.metricCount({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
        },
        label: 'API 5xx %',
        period: ALARM_PERIOD,
      }),
      threshold: API_5XX_RATE_PERCENT,
      evaluationPeriods: 2,
    });

    const metric = <K extends MetricName>(name: K, dimensions?: Partial<MetricDimensions[K]>) =>
      serviceMetric(props.serviceName, name, { ...(dimensions ? { dimensions } : {}) });
    this.#alarm('SendFailureRateAlarm', {
      alarmDescription: `At least ${SEND_FAILURE_RATE_PERCENT} failed messages per 100 sent in 5 minutes (from ${SEND_MIN_MESSAGES} sent): see MessagesFailed by ErrorCode on the dashboard`,
      metric: new cloudwatch.MathExpression({
        // No message in a period is no data for each metric: FILL makes it 0.
        expression: `IF(FILL(sent, 0) >= ${SEND_MIN_MESSAGES}, 100 * FILL(failed, 0) / FILL(sent, 0), IF(FILL(failed, 0) >= ${SEND_MIN_MESSAGES}, 100, 0))`,
        usingMetrics: { sent: metric('MessagesSent'), failed: metric('MessagesFailed') },
        label: 'Failed messages %',
        period: ALARM_PERIOD,
      }),
      threshold: SEND_FAILURE_RATE_PERCENT,
      evaluationPeriods: 1,
    });
    this.#alarm('StuckBroadcastsAlarm', {
      alarmDescription:
        'The sweeper found a broadcast with recipients queued or sending and no progress for SWEEP_STALE_SECONDS (15 minutes), far past the 60 s recovery bound',
      metric: serviceMetric(props.serviceName, 'StuckBroadcasts', { statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: STUCK_BROADCASTS_THRESHOLD,
      evaluationPeriods: 1,
    });
    this.#alarm('AuditWriteFailuresAlarm', {
      alarmDescription:
        "An admin write was made but its audit entry could not be written (DynamoDB throttled or failing): the audit log misses it; the function's log names the action and resource",
      metric: metric('AuditWriteFailures'),
      threshold: 1,
      evaluationPeriods: 1,
    });
    this.#alarm('TwilioRestAuthFailuresAlarm', {
      alarmDescription:
        "Twilio refused the account's credentials (20003/401): the auth token in Secrets Manager is wrong or was rotated; sends wait on the queue",
      metric: metric('TwilioAuthFailures', { Source: 'rest' }),
      threshold: TWILIO_REST_AUTH_FAILURES_THRESHOLD,
      evaluationPeriods: 1,
    });
    this.#alarm('TwilioWebhookAuthFailuresAlarm', {
      alarmDescription: `At least ${TWILIO_WEBHOOK_AUTH_FAILURES_THRESHOLD} webhooks in 5 minutes had a missing or wrong X-Twilio-Signature: a rotated auth token, a wrong PUBLIC_BASE_URL, or someone probing the URL`,
      metric: metric('TwilioAuthFailures', { Source: 'webhook' }),
      threshold: TWILIO_WEBHOOK_AUTH_FAILURES_THRESHOLD,
      evaluationPeriods: 1,
    });

    Aspects.of(scope).add(new NotifyTopic(this.topic));
  }

  #alarm(
    id: string,
    props: Pick<cloudwatch.AlarmProps, 'alarmDescription' | 'metric' | 'threshold' | 'evaluationPeriods'>,
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      ...props,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No data is no traffic (a function not invoked, no messages sent), not a fault.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarms.push(alarm);
    return alarm;
  }
}

/** Gives every CloudWatch alarm in the stack the topic as its ALARM and OK action, once. */
class NotifyTopic implements IAspect {
  readonly #action: cwActions.SnsAction;
  readonly #done = new WeakSet<IConstruct>();
  constructor(topic: sns.ITopic) {
    this.#action = new cwActions.SnsAction(topic);
  }
  visit(node: IConstruct): void {
    if (!(node instanceof cloudwatch.Alarm) || this.#done.has(node)) return;
    this.#done.add(node);
    node.addAlarmAction(this.#action);
    node.addOkAction(this.#action);
  }
}

/** A plain address (SNS sends the confirmation to it); a typo fails the synth. */
export function checkAlarmEmail(email: string | undefined): string | undefined {
  const trimmed = email?.trim();
  if (!trimmed) return undefined;
  if (!/^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/.test(trimmed))
    throw new Error(`alarmEmail must be one email address, like ops@example.com; got '${trimmed}'`);
  return trimmed;
}
