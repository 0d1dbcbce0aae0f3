import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Lazy, RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { SECRET_NOT_SET } from '../functions/commons/config.ts';
import { SENDS_PER_INVOCATION, sendConcurrencyFor } from '../functions/core/pacing.ts';
import { parseBackoffSeconds } from '../functions/core/retry-policy.ts';
import { accessEnvironment } from './access-settings.ts';
import { ServiceAlarms } from './alarms.ts';
import { checkCorsOrigins, createBucket, grantBucket } from './buckets.ts';
import { addConsoleSite, type ConsoleSite } from './console-site.ts';
import { OperationsDashboard, watchedQueues } from './dashboard.ts';
import { createEventBuses } from './event-bus.ts';
import { ServiceFunction } from './function-defaults.ts';
import { nagEnv } from './nag-ids.ts';
import { pascal, queueUrlOutputs } from './output-names.ts';
import { retentionEnvironment } from './retention-settings.ts';
import {
  allowTarget,
  type BuiltScheduleGroup,
  createScheduleGroup,
  grantScheduleGroup,
  SCHEDULES_GRANT_REASON,
} from './schedule-groups.ts';
import { grantSecretPrefix, SECRET_PREFIX_GRANT_REASON, secretPrefixName } from './secret-prefixes.ts';
import {
  type BroadcastStackProps,
  checkPrices,
  checkPublicBaseUrl,
  checkTwilioSettings,
  validOptOutText,
  validSenderMps,
} from './stack-props.ts';
import { grantTable } from './table-grants.ts';
import {
  type ConsumerSpec,
  topology as declaredTopology,
  type QueueAccess,
  type StreamConsumerSpec,
  streamFilterPatterns,
  type Topology,
} from './topology.ts';
import { type ResourceLocator, resourceEnvironment, validateTopology } from './topology-wiring.ts';
import { isTraced, tracingEnvironment } from './tracing.ts';

/** The repository root: function entries in the topology are relative to it. */
const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** IteratorAge (ms, the age of the last record read) above this many minutes for 5 minutes alarms. */
const STREAM_LAG_ALARM_MINUTES = 5;

/** Paths Twilio is configured to call; printed as outputs to paste into the Twilio console. */

export const WEBHOOK_PATHS = {
  status: 'webhooks/twilio/status',
  inbound: 'webhooks/twilio/inbound',
} as const;

export type { BroadcastStackProps, TwilioSettings } from './stack-props.ts';

interface QueuePair {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
}

/**
 * The service on AWS, built from the topology declaration and nothing else: a function,
 * table, queue, secret, route, consumer or schedule exists here exactly when it is
 * declared there, with the permissions its `uses` names and no others.
 */
export class BroadcastStack extends Stack {
  readonly topology: Topology;
  readonly functions: Readonly<Record<string, ServiceFunction>>;
  readonly tables: Readonly<Record<string, dynamodb.Table>>;
  readonly queues: Readonly<Record<string, QueuePair>>;
  readonly secrets: Readonly<Record<string, secretsmanager.Secret>>;
  /** The admin console, unless `console: false`. */
  readonly consoleSite?: ConsoleSite;
  readonly buckets: Readonly<Record<string, s3.Bucket>>;
  /** The lifecycle events' bus (lib/event-bus.ts), by topology id. */
  readonly eventBuses: Readonly<Record<string, events.EventBus>>;
  readonly api: apigw.HttpApi;
  /** `https://{apiId}.execute-api.{region}.{suffix}`, without a trailing slash. */
  readonly apiUrl: string;
  /** The URL Twilio calls and signs, without a trailing slash. */
  readonly publicBaseUrl: string;
  /** The alarm topic and the alarms made for it (every alarm of the stack notifies the topic). */
  readonly alarms: ServiceAlarms;
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: BroadcastStackProps = {}) {
    super(scope, id, {
      description: 'WhatsApp template broadcasts through Twilio (HTTP API, Lambda, SQS, DynamoDB)',
      ...props,
    });
    const topo = props.topology ?? declaredTopology;
    validateTopology(topo);
    checkConsumersCanConsume(topo);
    const twilio = checkTwilioSettings(props.twilio ?? {});
    const senderMps = validSenderMps(props.senderMps);
    const logLevel = props.logLevel ?? 'WARN';
    if (!['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(logLevel))
      throw new Error(`logLevel must be DEBUG, INFO, WARN or ERROR; got '${logLevel}'`);
    this.topology = topo;

    this.tables = mapValues(topo.tables, (spec, tableId) => {
      const table = new dynamodb.Table(this, `${pascal(tableId)}Table`, {
        partitionKey: { name: spec.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: spec.sortKey, type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        timeToLiveAttribute: spec.timeToLiveAttribute,
        removalPolicy: RemovalPolicy.RETAIN,
        ...(spec.stream ? { stream: dynamodb.StreamViewType[spec.stream] } : {}),
      });
      for (const index of spec.globalIndexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.name,
          partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
          sortKey: index.sortKey ? { name: index.sortKey, type: dynamodb.AttributeType.STRING } : undefined,
        });
      }
      return table;
    });

    this.queues = mapValues(topo.queues, (spec, queueId) => {
      const deadLetterQueue = new sqs.Queue(this, `${pascal(queueId)}DeadLetterQueue`, {
        retentionPeriod: Duration.days(spec.deadLetter.retentionDays),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      const queue = new sqs.Queue(this, `${pascal(queueId)}Queue`, {
        visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
        retentionPeriod: Duration.days(spec.retentionDays),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: spec.deadLetter.maxReceiveCount },
      });
      new cloudwatch.Alarm(this, `${pascal(queueId)}DeadLetterAlarm`, {
        alarmDescription: `Messages reached the ${queueId} queue's dead-letter queue: they were not processed after ${spec.deadLetter.maxReceiveCount} receives`,
        metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      // Read by npm run cli -- dlq … --stack (bin/cli.ts): the names come from one place.
      const outputs = queueUrlOutputs(queueId);
      new CfnOutput(this, outputs.queue, {
        value: queue.queueUrl,
        description: `For npm run cli -- dlq redrive --queue ${queueId} --stack <stack> (or --queue-url <this>)`,
      });
      new CfnOutput(this, outputs.deadLetter, {
        value: deadLetterQueue.queueUrl,
        description: `For npm run cli -- dlq … --queue ${queueId} --stack <stack> (or --dlq-url <this>)`,
      });
      return { queue, deadLetterQueue };
    });

    this.secrets = mapValues(topo.secrets, (spec, secretId) => {
      // The operator puts the real value in after deploy (see the output), so no credential
      // ever appears in the template.
      const secret = new secretsmanager.Secret(this, `${pascal(secretId)}Secret`, {
        description: spec.description,
        // A marker, not a credential: handlers read it as "not set", so the create route answers
        // 503 PROVIDER_NOT_CONFIGURED until the operator stores the real token.
        secretStringValue: SecretValue.unsafePlainText(SECRET_NOT_SET),
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          "Twilio auth tokens are rotated in Twilio's console, not by Secrets Manager; the operator puts the new value here",
      });
      new CfnOutput(this, `${pascal(secretId)}SecretName`, {
        value: secret.secretName,
        description: `${spec.description}. Set it after deploy: aws secretsmanager put-secret-value --secret-id <this name> --secret-string <value>`,
      });
      return secret;
    });

    const corsOrigins = checkCorsOrigins(props.uploadCorsOrigins ?? []);
    this.buckets = mapValues(topo.buckets, (spec, bucketId) => {
      const bucket = createBucket(this, bucketId, spec, {
        corsOrigins,
        queueOf: (queueId) => mustGet(this.queues, queueId, 'queue').queue,
      });
      return bucket;
    });

    // The API exists before the functions so they can learn its URL from its id alone
    // (routes depend on functions, so a reference to the stage URL would be a cycle).
    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'WhatsApp broadcast API and Twilio webhooks',
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const throttle = props.apiThrottle ?? { rateLimit: 2000, burstLimit: 4000 };
    this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.apiUrl = `https://${this.api.apiId}.execute-api.${this.region}.${this.urlSuffix}`;
    this.publicBaseUrl = checkPublicBaseUrl(props.publicBaseUrl) ?? this.apiUrl;

    const scheduleGroups: Record<string, BuiltScheduleGroup> = mapValues(
      topo.scheduleGroups,
      (spec, groupId) => createScheduleGroup(this, groupId, spec),
    );

    this.eventBuses = createEventBuses(this, topo.eventBuses ?? {});

    // Function URLs are known only once their functions exist: functions that use one get it after.
    const functionUrls: Record<string, string> = {};
    const pendingUrlEnv: { fnId: string; envVar: string; urlId: string }[] = [];
    const locator: ResourceLocator = {
      functionUrl: (urlId) => {
        const url = functionUrls[urlId];
        if (url) return url;
        throw new Error(`function URL ${urlId} is not created yet`);
      },
      tableName: (tableId) => mustGet(this.tables, tableId, 'table').tableName,
      queueUrl: (queueId) => mustGet(this.queues, queueId, 'queue').queue.queueUrl,
      deadLetterQueueUrl: (queueId) => mustGet(this.queues, queueId, 'queue').deadLetterQueue.queueUrl,
      secretArn: (secretId) => mustGet(this.secrets, secretId, 'secret').secretArn,
      secretPrefix: (prefixId) => secretPrefixName(this, prefixId),
      bucketName: (bucketId) => mustGet(this.buckets, bucketId, 'bucket').bucketName,
      scheduleGroup: (groupId) => {
        const built = mustGet(scheduleGroups, groupId, 'schedule group');
        const target = mustGet(topo.scheduleGroups, groupId, 'schedule group').target;
        return {
          name: built.name,
          // The target is created with the other functions; its ARN is resolved at synth.
          targetArn: Lazy.string({
            produce: () => mustGet(this.functions, target, 'function').function.functionArn,
          }),
          roleArn: built.role.roleArn,
          deadLetterArn: built.deadLetterQueue.queueArn,
        };
      },
      eventBusName: (busId) => mustGet(this.eventBuses, busId, 'event bus').eventBusName,
    };
    const platformEnvironment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'whatsapp-broadcast',
      PUBLIC_BASE_URL: this.publicBaseUrl,
      TWILIO_ACCOUNT_SID: twilio.accountSid ?? '',
      TWILIO_FROM: twilio.from ?? '',
      TWILIO_MESSAGING_SERVICE_SID: twilio.messagingServiceSid ?? '',
      // Validated here so a typo fails the synth, not the first failed send.
      RETRY_BACKOFF_SECONDS: parseBackoffSeconds(props.retryBackoffSeconds).join(','),
      SENDER_MPS: String(senderMps),
      ...(props.whatsAppPrices?.trim() ? { WHATSAPP_PRICES: checkPrices(props.whatsAppPrices) } : {}),
      POWERTOOLS_LOG_LEVEL: logLevel,
      OPT_OUT_CONFIRMATION_TEXT: validOptOutText(props.optOutConfirmationText),
      ...accessEnvironment(props),
      ...retentionEnvironment(props),
    };

    this.functions = mapValues(topo.functions, (spec, fnId) => {
      for (const urlId of spec.uses.functionUrls ?? [])
        pendingUrlEnv.push({ fnId, urlId, envVar: mustGet(topo.functionUrls, urlId, 'function URL').envVar });
      const resourceEnv = resourceEnvironment(
        topo,
        { ...spec, uses: { ...spec.uses, functionUrls: [] } },
        locator,
        { includeSecrets: true },
      );
      const declared = spec.environment ?? {};
      for (const key of Object.keys(declared))
        if (key in resourceEnv || key in platformEnvironment || key === 'NODE_OPTIONS')
          throw new Error(
            `Function ${fnId}: environment variable ${key} is set by the stack; remove it from the topology`,
          );
      const service = new ServiceFunction(this, `${pascal(fnId)}Function`, {
        entry: resolve(REPO_ROOT, spec.entry),
        projectRoot: REPO_ROOT,
        description: spec.description,
        memoryMb: spec.memoryMb,
        timeoutSeconds: spec.timeoutSeconds,
        environment: {
          ...declared,
          ...resourceEnv,
          ...platformEnvironment,
          ...tracingEnvironment(fnId, props.tracing ?? false),
        },
        logLevel,
        tracing: isTraced(fnId, props.tracing ?? false),
      });
      const grantee = service.function;
      const indexArns: string[] = [];
      for (const [tableId, access] of Object.entries(spec.uses.tables ?? {})) {
        const table = mustGet(this.tables, tableId, 'table');
        const { indexWildcard } = grantTable(
          service.role,
          table,
          access,
          mustGet(topo.tables, tableId, 'table'),
        );
        if (indexWildcard)
          indexArns.push(
            `Resource::<${this.getLogicalId(table.node.defaultChild as dynamodb.CfnTable)}.Arn>/index/*`,
          );
      }
      for (const [queueId, access] of Object.entries(spec.uses.queues ?? {}))
        grantQueue(mustGet(this.queues, queueId, 'queue').queue, access, grantee);
      for (const [queueId, access] of Object.entries(spec.uses.deadLetterQueues ?? {}))
        grantQueue(mustGet(this.queues, queueId, 'queue').deadLetterQueue, access, grantee);
      for (const secretId of spec.uses.secrets ?? [])
        mustGet(this.secrets, secretId, 'secret').grantRead(grantee);
      for (const [prefixId, access] of Object.entries(spec.uses.secretPrefixes ?? {}))
        indexArns.push(grantSecretPrefix(service.role, secretPrefixName(this, prefixId), access));
      for (const [bucketId, access] of Object.entries(spec.uses.buckets ?? {})) {
        const bucket = mustGet(this.buckets, bucketId, 'bucket');
        grantBucket(service.role, bucket, access);
        const bucketRef = this.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
        for (const prefix of new Set([
          ...(access.read ?? []),
          ...(access.write ?? []),
          ...(access.delete ?? []),
        ]))
          indexArns.push(`Resource::<${bucketRef}.Arn>/${prefix}*`);
      }
      for (const busId of spec.uses.eventBuses ?? [])
        mustGet(this.eventBuses, busId, 'event bus').grantPutEventsTo(grantee);
      for (const groupId of spec.uses.scheduleGroups ?? []) {
        const built = mustGet(scheduleGroups, groupId, 'schedule group');
        grantScheduleGroup(this, service.role, built);
        const { account, region } = nagEnv(this);
        indexArns.push(
          `Resource::arn:<AWS::Partition>:scheduler:${region}:${account}:schedule/${built.name}/*`,
        );
      }

      // cdk-nag findings on this role, each acknowledged on its own.
      Validations.of(service.role).acknowledge(
        ...(isTraced(fnId, props.tracing ?? false)
          ? [
              {
                id: 'AwsSolutions-IAM5[Resource::*]',
                reason:
                  'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions, so active tracing needs Resource *',
              },
            ]
          : []),
        ...indexArns.map((finding) => ({
          id: `AwsSolutions-IAM5[${finding}]`,
          reason: finding.endsWith('/index/*')
            ? "Queries through the table's declared global secondary indexes; limited to this table's indexes"
            : finding.includes(':scheduler:')
              ? SCHEDULES_GRANT_REASON
              : finding.includes(':secretsmanager:')
                ? SECRET_PREFIX_GRANT_REASON
                : "The objects under one key prefix of this stack's bucket (their keys hold tenant and upload ids, unknown until runtime); the actions are only those the topology declares",
        })),
      );
      return service;
    });
    const lambdaOf = (fnId: string) => mustGet(this.functions, fnId, 'function').function;
    for (const [groupId, spec] of Object.entries(topo.scheduleGroups))
      allowTarget(mustGet(scheduleGroups, groupId, 'schedule group'), lambdaOf(spec.target));

    for (const [urlId, spec] of Object.entries(topo.functionUrls)) {
      // Public by design: the function checks X-Twilio-Signature over the URL it was called at.
      const url = lambdaOf(spec.function).addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
      functionUrls[urlId] = url.url;
      new CfnOutput(this, `${pascal(urlId)}FunctionUrl`, {
        value: url.url,
        description: `The ${urlId} function's URL (status callbacks name it per message; nothing to paste)`,
      });
    }
    for (const { fnId, envVar, urlId } of pendingUrlEnv)
      lambdaOf(fnId).addEnvironment(envVar, locator.functionUrl(urlId));

    for (const consumer of topo.streamConsumers) {
      const table = mustGet(this.tables, consumer.table, 'table');
      const onFailure = mustGet(this.queues, consumer.onFailureQueue, 'queue').queue;
      // Counts that fall behind or lose a batch: the sweeper's recount repairs a stalled broadcast's
      // counters, but an operator should know the stream consumer is struggling.
      new cloudwatch.Alarm(this, `${pascal(consumer.function)}GaveUpAlarm`, {
        alarmDescription: `Stream batches ${consumer.function} gave up on after ${consumer.retryAttempts} retries (on the ${consumer.onFailureQueue} queue): ${consumer.gaveUpMeans}`,
        metric: onFailure.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      new cloudwatch.Alarm(this, `${pascal(consumer.function)}IteratorAgeAlarm`, {
        alarmDescription: `${consumer.function} is more than ${STREAM_LAG_ALARM_MINUTES} minutes behind the table's stream: ${consumer.lagMeans}; records older than 24 hours leave the stream`,
        metric: lambdaOf(consumer.function).metric('IteratorAge', {
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: STREAM_LAG_ALARM_MINUTES * 60_000,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      lambdaOf(consumer.function).addEventSource(
        new DynamoEventSource(table, {
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize: consumer.batchSize,
          maxBatchingWindow: Duration.seconds(consumer.maxBatchingWindowSeconds),
          bisectBatchOnError: true,
          retryAttempts: consumer.retryAttempts,
          maxRecordAge: Duration.seconds(consumer.maxRecordAgeSeconds),
          parallelizationFactor: 1,
          onFailure: new SqsDlq(onFailure),
          filters: streamFilterPatterns(consumer).map((pattern) => lambda.FilterCriteria.filter(pattern)),
          reportBatchItemFailures: (consumer as StreamConsumerSpec).reportBatchItemFailures ?? false,
        }),
      );
      Validations.of(mustGet(this.functions, consumer.function, 'function').role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          "The DynamoDB event source needs dynamodb:ListStreams, which supports no resource-level permission; the stream's own reads are limited to this table's stream",
      });
    }

    for (const consumer of topo.consumers) {
      lambdaOf(consumer.function).addEventSource(
        new SqsEventSource(mustGet(this.queues, consumer.queue, 'queue').queue, {
          batchSize: consumer.batchSize,
          maxBatchingWindow:
            consumer.maxBatchingWindowSeconds > 0
              ? Duration.seconds(consumer.maxBatchingWindowSeconds)
              : undefined,
          maxConcurrency: (consumer as ConsumerSpec).scaleWithSenderRate
            ? sendConcurrencyFor(senderMps, SENDS_PER_INVOCATION, consumer.maxConcurrency)
            : consumer.maxConcurrency,
          reportBatchItemFailures: consumer.reportBatchItemFailures,
        }),
      );
    }

    for (const schedule of topo.schedules) {
      new events.Rule(this, `${pascal(schedule.id)}Schedule`, {
        description: schedule.description,
        schedule: events.Schedule.rate(Duration.minutes(schedule.everyMinutes)),
        // A run that could not be delivered is superseded by the next one: do not pile them up.
        targets: [
          new targets.LambdaFunction(lambdaOf(schedule.function), {
            retryAttempts: 2,
            maxEventAge: Duration.minutes(Math.max(1, schedule.everyMinutes)),
          }),
        ],
      });
    }

    const integrations = new Map<string, HttpLambdaIntegration>();
    for (const route of topo.routes) {
      let integration = integrations.get(route.function);
      if (!integration) {
        integration = new HttpLambdaIntegration(
          `${pascal(route.function)}Integration`,
          lambdaOf(route.function),
        );
        integrations.set(route.function, integration);
      }
      const created = this.api.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration,
      });
      for (const r of created)
        Validations.of(r).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: route.auth === 'admin' ? ADMIN_ROUTE_REASON : PUBLIC_ROUTE_REASON,
        });
    }

    if (topo.defaultRoute) {
      const fnId = topo.defaultRoute.function;
      const defaultRoute = new apigw.HttpRoute(this, 'DefaultRoute', {
        httpApi: this.api,
        routeKey: apigw.HttpRouteKey.DEFAULT,
        integration:
          integrations.get(fnId) ?? new HttpLambdaIntegration(`${pascal(fnId)}Integration`, lambdaOf(fnId)),
      });
      Validations.of(defaultRoute).acknowledge({ id: 'AwsSolutions-APIG4', reason: DEFAULT_ROUTE_REASON });
    }

    for (const [tableId, table] of Object.entries(this.tables))
      new CfnOutput(this, `${pascal(tableId)}TableName`, {
        value: table.tableName,
        description: 'For the operator CLI (npm run cli -- … --table <this name>)',
      });
    new CfnOutput(this, 'ApiUrl', { value: `${this.apiUrl}/`, description: 'Base URL of the HTTP API' });
    if (props.console !== false) this.consoleSite = addConsoleSite(this, this.api, this.apiUrl);
    if (props.publicBaseUrl)
      new CfnOutput(this, 'PublicBaseUrl', {
        value: `${this.publicBaseUrl}/`,
        description: 'The URL Twilio calls',
      });
    new CfnOutput(this, 'StatusWebhookUrl', {
      value: `${this.publicBaseUrl}/${WEBHOOK_PATHS.status}`,
      description: "Paste into Twilio as the sender's status callback URL",
    });
    new CfnOutput(this, 'InboundWebhookUrl', {
      value: `${this.publicBaseUrl}/${WEBHOOK_PATHS.inbound}`,
      description: "Paste into Twilio as the WhatsApp sender's incoming message webhook",
    });

    // Alarms that notify someone, and the operations dashboard (lib/alarms.ts, lib/dashboard.ts).
    const serviceName = platformEnvironment.POWERTOOLS_SERVICE_NAME ?? 'whatsapp-broadcast';
    const lambdas = mapValues(this.functions, (service) => service.function);
    this.alarms = new ServiceAlarms(this, 'Alarms', {
      functions: lambdas,
      api: this.api,
      serviceName,
      alarmEmail: props.alarmEmail,
    });
    this.dashboard = new OperationsDashboard(this, 'Operations', {
      functions: mapValues(lambdas, (fn, fnId) => ({
        function: fn,
        memoryMb: mustGet(topo.functions, fnId, 'function').memoryMb,
      })),
      queues: watchedQueues(this.queues, scheduleGroups),
      tables: this.tables,
      api: this.api,
      senderMps,
      serviceName,
    });
  }
}

const ADMIN_ROUTE_REASON =
  "Authenticated in the handler by the tenant's API key (functions/commons/admin-route.ts): API.md's 401 error shape cannot come from an HTTP API authorizer";
const DEFAULT_ROUTE_REASON =
  'The $default route only answers 404/405 in the API error shape for requests no route takes; it reads and changes nothing';
const PUBLIC_ROUTE_REASON =
  'Public by design: Twilio webhooks are authenticated by X-Twilio-Signature in the handler; /healthz and /openapi.json are public';

/** HTTP API access log line (payload of $context variables supported by HTTP APIs). */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integration.status',
  integrationLatency: '$context.integration.latency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
};

function grantQueue(queue: sqs.IQueue, access: QueueAccess, grantee: iam.IGrantable): void {
  switch (access) {
    case 'send':
      queue.grantSendMessages(grantee);
      return;
    case 'consume':
      queue.grantConsumeMessages(grantee);
      return;
    case 'send+consume':
      queue.grantSendMessages(grantee);
      queue.grantConsumeMessages(grantee);
      return;
    case 'depth':
      queue.grant(grantee, 'sqs:GetQueueAttributes');
      return;
  }
}

/** An event source mapping grants consume on its own; require the topology to say so. */
function checkConsumersCanConsume(topo: Topology): void {
  for (const c of topo.consumers) {
    const access = topo.functions[c.function]?.uses.queues?.[c.queue];
    if (access !== 'consume' && access !== 'send+consume')
      throw new Error(
        `Consumer ${c.function} of queue ${c.queue} must declare uses.queues.${c.queue} as 'consume' or 'send+consume'`,
      );
  }
}

function mapValues<T, U>(
  record: Readonly<Record<string, T>>,
  f: (value: T, key: string) => U,
): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, f(value, key)]));
}

function mustGet<T>(record: Readonly<Record<string, T>>, id: string, kind: string): T {
  const value = record[id];
  if (!value) throw new Error(`Unknown ${kind} '${id}' in topology`);
  return value;
}
