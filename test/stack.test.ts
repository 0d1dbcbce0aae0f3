import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type App, type CfnResource, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECRET_NOT_SET } from '../functions/commons/config.ts';
import { sendConcurrencyFor } from '../functions/core/pacing.ts';
import { BroadcastStack, type BroadcastStackProps } from '../lib/stack.ts';
import { resolveTableGrants, WRITE_ACTIONS } from '../lib/table-access.ts';
import {
  type DynamoAction,
  type FunctionSpec,
  type StreamConsumerSpec,
  streamFilterPatterns,
  type Topology,
  topology,
} from '../lib/topology.ts';
import { TRACED_FUNCTIONS } from '../lib/tracing.ts';
import { testApp } from './support/cdk-app.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
/** The feature flags `cdk synth` runs with, so tests see the same template. */
const cdkJsonContext = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: object })
  .context;

type Json = Record<string, unknown>;

/** The app and stack, not yet synthesized (so validation plugins can still be added). */
function build(props: BroadcastStackProps = {}, options: { bundle?: boolean } = {}) {
  const app = testApp({
    context: { ...cdkJsonContext, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  // The console's resources (CloudFront, CDK's BucketDeployment provider function and its managed
  // policy) are not the topology's: test/stack-console.test.ts checks them, cdk-nag included.
  const stack = new BroadcastStack(app, 'Broadcast', { console: false, ...props });
  return { app, stack };
}

function synth(props: BroadcastStackProps = {}, options: { bundle?: boolean } = {}) {
  const { app, stack } = build(props, options);
  return { app, stack, template: Template.fromStack(stack) };
}

const logicalId = (stack: BroadcastStack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing ${what}`);
  return value;
}
const fnOf = (stack: BroadcastStack, fnId: string) => must(stack.functions[fnId], `function ${fnId}`);
const queuesOf = (stack: BroadcastStack, queueId: string) => must(stack.queues[queueId], `queue ${queueId}`);

/** Every action the function's role may perform, with the resources of each statement. */
function roleStatements(template: Template, stack: BroadcastStack, fnId: string) {
  const roleId = logicalId(stack, fnOf(stack, fnId).role);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Json[];
  return policies
    .filter((p) => JSON.stringify((p.Properties as Json).Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((p) => ((p.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement)
    .map((s) => ({
      actions: ([] as string[]).concat(s.Action as string | string[]),
      resources: JSON.stringify(s.Resource),
    }));
}

const functionEntries = Object.entries(topology.functions) as [string, FunctionSpec][];

describe('BroadcastStack built from the topology', () => {
  let stack: BroadcastStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synth());
  });

  it('creates exactly one Node.js 24 arm64 function per topology function, from its spec', () => {
    template.resourceCountIs('AWS::Lambda::Function', functionEntries.length);
    for (const [fnId, spec] of functionEntries) {
      const fn = template.toJSON().Resources[logicalId(stack, fnOf(stack, fnId).function)];
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: spec.memoryMb,
        Timeout: spec.timeoutSeconds,
        Description: spec.description,
        // JSON logs at WARN: no START/END/REPORT lines, nothing per message unless something is wrong.
        LoggingConfig: {
          LogGroup: { Ref: logicalId(stack, fnOf(stack, fnId).logGroup) },
          LogFormat: 'JSON',
          ApplicationLogLevel: 'WARN',
          SystemLogLevel: 'WARN',
        },
      });
      // X-Ray ($5 per million traces) only when asked for.
      expect(fn.Properties.TracingConfig).toBeUndefined();
      const env = fn.Properties.Environment.Variables as Json;
      expect(env).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'whatsapp-broadcast',
      });
      for (const key of [
        'PUBLIC_BASE_URL',
        'TWILIO_ACCOUNT_SID',
        'TWILIO_FROM',
        'TWILIO_MESSAGING_SERVICE_SID',
      ])
        expect(env).toHaveProperty(key);
      for (const t of Object.keys(spec.uses.tables ?? {}))
        expect(env[topology.tables[t as keyof typeof topology.tables].envVar]).toBeDefined();
      for (const q of Object.keys(spec.uses.queues ?? {}))
        expect(env[topology.queues[q as keyof typeof topology.queues].envVar]).toBeDefined();
      for (const s of spec.uses.secrets ?? [])
        expect(env[topology.secrets[s as keyof typeof topology.secrets].envVar]).toEqual({
          Ref: logicalId(stack, must(stack.secrets[s], s)),
        });
    }
  });

  it('gives each function its own log group with a retention, and no managed policies', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', functionEntries.length + 1); // + API access logs
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    for (const role of Object.values(template.findResources('AWS::IAM::Role')))
      expect((role as Json).Properties).not.toHaveProperty('ManagedPolicyArns');
  });

  it('makes every queue encrypted, SSL-only, with a dead-letter queue after maxReceiveCount receives', () => {
    for (const [queueId, spec] of Object.entries(topology.queues)) {
      const { queue, deadLetterQueue } = queuesOf(stack, queueId);
      const resources = template.toJSON().Resources;
      const dlqId = logicalId(stack, deadLetterQueue);
      expect(resources[logicalId(stack, queue)].Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        VisibilityTimeout: spec.visibilityTimeoutSeconds,
        MessageRetentionPeriod: spec.retentionDays * 86400,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
          maxReceiveCount: spec.deadLetter.maxReceiveCount,
        },
      });
      expect(resources[dlqId].Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: spec.deadLetter.retentionDays * 86400,
      });
      for (const q of [queue, deadLetterQueue])
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: logicalId(stack, q) }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 'sqs:*',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
    }
  });

  it('alarms when a message reaches a dead-letter queue', () => {
    for (const { deadLetterQueue } of Object.values(stack.queues))
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, deadLetterQueue), 'QueueName'] } },
        ],
      });
  });

  it('alarms when the counts aggregator gives up on a stream batch, or falls minutes behind the stream', () => {
    for (const consumer of topology.streamConsumers) {
      const onFailure = stack.queues[consumer.onFailureQueue]?.queue;
      if (!onFailure) throw new Error(`no queue ${consumer.onFailureQueue}`);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 0,
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, onFailure), 'QueueName'] } },
        ],
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'IteratorAge',
        Namespace: 'AWS/Lambda',
        Threshold: 5 * 60_000,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it('maps each consumer to an event source mapping with its batching, concurrency and partial failures', () => {
    template.resourceCountIs(
      'AWS::Lambda::EventSourceMapping',
      topology.consumers.length + topology.streamConsumers.length,
    );
    for (const c of topology.consumers)
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, queuesOf(stack, c.queue).queue), 'Arn'] },
        FunctionName: { Ref: logicalId(stack, fnOf(stack, c.function).function) },
        BatchSize: c.batchSize,
        // Zero is Lambda's default, and the stack leaves it out.
        MaximumBatchingWindowInSeconds: c.maxBatchingWindowSeconds || Match.absent(),
        ScalingConfig: {
          MaximumConcurrency:
            'scaleWithSenderRate' in c
              ? sendConcurrencyFor(80, undefined, c.maxConcurrency)
              : c.maxConcurrency,
        },
        FunctionResponseTypes: c.reportBatchItemFailures ? ['ReportBatchItemFailures'] : Match.absent(),
      });
    expect(topology.consumers).toContainEqual(
      expect.objectContaining({ queue: 'send', function: 'sendMessages', batchSize: 50 }),
    );
  });

  it('creates the lifecycle event bus with an archive to replay from, its outputs, and PutEvents for the publisher only', () => {
    const bus = must(stack.eventBuses.lifecycle, 'lifecycle bus');
    const busArn = JSON.stringify({ 'Fn::GetAtt': [logicalId(stack, bus), 'Arn'] });
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'Broadcast-lifecycle' });
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [logicalId(stack, bus), 'Arn'] },
      EventPattern: { source: ['whatsapp-broadcast'] },
      RetentionDays: topology.eventBuses.lifecycle.archiveRetentionDays,
    });
    template.hasOutput('EventBusName', { Value: { Ref: logicalId(stack, bus) } });
    template.hasOutput('EventBusArn', { Value: { 'Fn::GetAtt': [logicalId(stack, bus), 'Arn'] } });
    for (const [fnId, spec] of functionEntries) {
      const statements = roleStatements(template, stack, fnId).filter((s) =>
        s.actions.some((a) => a.startsWith('events:')),
      );
      if ((spec.uses.eventBuses ?? []).length === 0) expect(statements, fnId).toEqual([]);
      else expect(statements).toEqual([{ actions: ['events:PutEvents'], resources: busArn }]);
    }
    expect(topology.functions.publishEvents.uses.eventBuses).toEqual(['lifecycle']);
    // Its batches the bus kept refusing for a day are recorded on their own queue, alarmed.
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(stack, fnOf(stack, 'publishEvents').function) },
      MaximumRetryAttempts: 10_000,
      MaximumRecordAgeInSeconds: 86_400,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [logicalId(stack, queuesOf(stack, 'eventFailures').queue), 'Arn'] },
        },
      },
    });
  });

  it('reads the table stream with the aggregator: recipient items only, bisected retries, failures kept', () => {
    for (const c of topology.streamConsumers)
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: {
          'Fn::GetAtt': [logicalId(stack, must(stack.tables[c.table], c.table)), 'StreamArn'],
        },
        FunctionName: { Ref: logicalId(stack, fnOf(stack, c.function).function) },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: c.batchSize,
        MaximumBatchingWindowInSeconds: c.maxBatchingWindowSeconds,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: c.retryAttempts,
        MaximumRecordAgeInSeconds: c.maxRecordAgeSeconds,
        ParallelizationFactor: 1,
        FilterCriteria: {
          Filters: streamFilterPatterns(c).map((pattern) => ({ Pattern: JSON.stringify(pattern) })),
        },
        FunctionResponseTypes: (c as StreamConsumerSpec).reportBatchItemFailures
          ? ['ReportBatchItemFailures']
          : Match.absent(),
        DestinationConfig: {
          OnFailure: {
            Destination: { 'Fn::GetAtt': [logicalId(stack, queuesOf(stack, c.onFailureQueue).queue), 'Arn'] },
          },
        },
      });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
  });

  it('gives the status callback function its own URL (no API Gateway request per callback), and the send function knows it', () => {
    template.resourceCountIs('AWS::Lambda::Url', Object.keys(topology.functionUrls).length);
    const webhook = logicalId(stack, fnOf(stack, 'twilioStatusWebhook').function);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [webhook, 'Arn'] },
    });
    const send = template.toJSON().Resources[logicalId(stack, fnOf(stack, 'sendMessages').function)];
    expect(send.Properties.Environment.Variables.STATUS_CALLBACK_URL).toMatchObject({
      'Fn::GetAtt': [expect.stringContaining('FunctionUrl'), 'FunctionUrl'],
    });
  });

  it("scales the send consumer's concurrency with the sender's rate", () => {
    const fast = synth({ senderMps: 1000 });
    fast.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(fast.stack, fnOf(fast.stack, 'sendMessages').function) },
      ScalingConfig: { MaximumConcurrency: sendConcurrencyFor(1000) },
    });
    expect(sendConcurrencyFor(1000)).toBe(13);
  });

  it('runs each schedule as an EventBridge rate rule targeting its function', () => {
    template.resourceCountIs('AWS::Events::Rule', topology.schedules.length);
    for (const s of topology.schedules) {
      const fnId = logicalId(stack, fnOf(stack, s.function).function);
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: `rate(${s.everyMinutes} minute${s.everyMinutes === 1 ? '' : 's'})`,
        State: 'ENABLED',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } })],
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Principal: 'events.amazonaws.com',
      });
    }
    expect(topology.schedules[0]).toMatchObject({ function: 'retryFailed', everyMinutes: 1 });
  });

  it('routes each topology route to its function through the HTTP API', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Route', topology.routes.length + 1); // + $default
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Json[];
    const integrations = template.findResources('AWS::ApiGatewayV2::Integration');
    for (const r of topology.routes) {
      const route = routes.find((x) => (x.Properties as Json).RouteKey === `${r.method} ${r.path}`);
      expect(route, `${r.method} ${r.path}`).toBeDefined();
      const props = must(route, 'route').Properties as {
        Target: { 'Fn::Join': [string, unknown[]] };
        AuthorizationType: string;
      };
      // Admin routes authenticate in the handler, so API Gateway authorizes none of them.
      expect(props.AuthorizationType).toBe('NONE');
      const [prefix, ref] = props.Target['Fn::Join'][1] as [string, { Ref: string }];
      expect(prefix).toBe('integrations/');
      expect(must(integrations[ref.Ref], ref.Ref).Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [logicalId(stack, fnOf(stack, r.function).function), 'Arn'] },
      });
    }
  });

  it("sends what no route takes to the $default route's function, which answers 404/405 in the error shape", () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Json[];
    const fallback = must(
      routes.find((x) => (x.Properties as Json).RouteKey === '$default'),
      'the $default route',
    );
    const props = fallback.Properties as {
      Target: { 'Fn::Join': [string, unknown[]] };
      AuthorizationType: string;
    };
    expect(props.AuthorizationType).toBe('NONE');
    const [, ref] = props.Target['Fn::Join'][1] as [string, { Ref: string }];
    const integration = template.findResources('AWS::ApiGatewayV2::Integration')[ref.Ref] as Json;
    expect(topology.defaultRoute.function).toBe('routeNotFound');
    expect(integration.Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [logicalId(stack, fnOf(stack, 'routeNotFound').function), 'Arn'] },
    });
    // It reads and changes nothing: its role has no data-plane grant.
    const actions = roleStatements(template, stack, 'routeNotFound').flatMap((st) => st.actions);
    expect(actions.filter((a) => /^(dynamodb|sqs|secretsmanager):/.test(a))).toEqual([]);
  });

  it('has no $default route when the topology declares none', () => {
    const { defaultRoute: _none, ...withoutDefault } = topology;
    const bare = synth({ topology: withoutDefault }).template;
    bare.resourceCountIs('AWS::ApiGatewayV2::Route', topology.routes.length);
  });

  it('logs and throttles the API stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('\\$context.requestId'),
      },
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
    });
  });

  it('keeps tables on demand, with point-in-time recovery, TTL, AWS-managed encryption, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', Object.keys(topology.tables).length);
    for (const [tableId, spec] of Object.entries(topology.tables)) {
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({
          BillingMode: 'PAY_PER_REQUEST',
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true },
          TimeToLiveSpecification: { AttributeName: spec.timeToLiveAttribute, Enabled: true },
          KeySchema: [
            { AttributeName: spec.partitionKey, KeyType: 'HASH' },
            { AttributeName: spec.sortKey, KeyType: 'RANGE' },
          ],
        }),
      });
      expect(stack.tables[tableId]).toBeDefined();
    }
  });

  it('lets exactly the functions that use a secret read it', () => {
    for (const [secretId, spec] of Object.entries(topology.secrets)) {
      const secretRef = JSON.stringify({ Ref: logicalId(stack, must(stack.secrets[secretId], secretId)) });
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Description: spec.description,
        // Never a credential in the template: only the marker the handlers read as "not set".
        SecretString: SECRET_NOT_SET,
      });
      for (const [fnId, fnSpec] of functionEntries) {
        const reads = roleStatements(template, stack, fnId).some(
          (s) => s.actions.includes('secretsmanager:GetSecretValue') && s.resources.includes(secretRef),
        );
        expect(reads, `${fnId} reads ${secretId}`).toBe((fnSpec.uses.secrets ?? []).includes(secretId));
      }
    }
  });

  it('grants each function only the services its uses name', () => {
    for (const [fnId, spec] of functionEntries) {
      const actions = roleStatements(template, stack, fnId).flatMap((s) => s.actions);
      const services = new Set(actions.map((a) => a.split(':')[0]));
      const expected = new Set(['logs']);
      const streamConsumer = topology.streamConsumers.some((c) => c.function === fnId);
      if (Object.keys(spec.uses.tables ?? {}).length > 0) expected.add('dynamodb');
      // A stream consumer's on-failure destination is a queue the event source writes to.
      if (Object.keys({ ...spec.uses.queues, ...spec.uses.deadLetterQueues }).length > 0 || streamConsumer)
        expected.add('sqs');
      if ((spec.uses.secrets ?? []).length > 0) expected.add('secretsmanager');
      if (Object.keys(spec.uses.buckets ?? {}).length > 0) expected.add('s3');
      if ((spec.uses.eventBuses ?? []).length > 0) expected.add('events');
      // Its schedule group's schedules, and passing the group's role to Scheduler (lib/schedule-groups.ts).
      if (((spec.uses as { scheduleGroups?: readonly string[] }).scheduleGroups ?? []).length > 0)
        for (const service of ['scheduler', 'iam']) expected.add(service);
      expect([...services].sort(), fnId).toEqual([...expected].sort());
      expect(
        actions.some((a) => a.endsWith(':*')),
        `${fnId} has a wildcard action`,
      ).toBe(false);
      const writesTable = actions.some((a) => WRITE_ACTIONS.has(a.replace('dynamodb:', '') as DynamoAction));
      expect(writesTable, `${fnId} writes a table`).toBe(
        Object.entries(spec.uses.tables ?? {}).some(([tableId, access]) =>
          resolveTableGrants(access, must(topology.tables[tableId as 'main'], tableId)).some((g) =>
            g.actions.some((a) => WRITE_ACTIONS.has(a)),
          ),
        ),
      );
      expect(actions.includes('sqs:SendMessage')).toBe(
        Object.values(spec.uses.queues ?? {}).some((a) => a.includes('send')) || streamConsumer,
      );
      expect(actions.includes('sqs:DeleteMessage')).toBe(
        Object.values(spec.uses.queues ?? {}).some((a) => a.includes('consume')),
      );
    }
  });

  it("lets /healthz read the main table and the send queue's attributes, and nothing else", () => {
    const tableArn = JSON.stringify({
      'Fn::GetAtt': [logicalId(stack, must(stack.tables.main, 'main table')), 'Arn'],
    });
    const sendQueueArn = JSON.stringify({
      'Fn::GetAtt': [logicalId(stack, queuesOf(stack, 'send').queue), 'Arn'],
    });
    const statements = roleStatements(template, stack, 'healthz').filter((s) =>
      s.actions.some((a) => /^(dynamodb|sqs|secretsmanager):/.test(a)),
    );
    const dynamo = statements.filter((s) => s.actions.some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.flatMap((s) => s.actions)).toContain('dynamodb:GetItem');
    expect(dynamo.flatMap((s) => s.actions).filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
    for (const s of dynamo) expect(s.resources).toContain(tableArn);
    const sqs = statements.filter((s) => s.actions.some((a) => a.startsWith('sqs:')));
    expect(sqs).toEqual([{ actions: ['sqs:GetQueueAttributes'], resources: sendQueueArn }]);
    expect(statements.flatMap((s) => s.actions).filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('prints the API URL, the two Twilio webhook URLs and the secret to fill in', () => {
    const outputs = template.findOutputs('*');
    for (const name of ['ApiUrl', 'StatusWebhookUrl', 'InboundWebhookUrl', 'TwilioAuthTokenSecretName'])
      expect(outputs, name).toHaveProperty(name);
    expect(JSON.stringify(must(outputs.StatusWebhookUrl, 'StatusWebhookUrl').Value)).toContain(
      '/webhooks/twilio/status',
    );
    expect(JSON.stringify(must(outputs.InboundWebhookUrl, 'InboundWebhookUrl').Value)).toContain(
      '/webhooks/twilio/inbound',
    );
    expect(JSON.stringify(must(outputs.ApiUrl, 'ApiUrl').Value)).toContain('.execute-api.');
  });
});

describe('BroadcastStack settings', () => {
  it('passes Twilio settings and a custom public base URL to the functions and outputs', () => {
    const sid = `AC${'0'.repeat(32)}`;
    const { template } = synth({
      twilio: { accountSid: sid, from: 'whatsapp:+14155238886' },
      publicBaseUrl: 'https://hooks.example.com/',
    });
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          PUBLIC_BASE_URL: 'https://hooks.example.com',
          TWILIO_ACCOUNT_SID: sid,
          TWILIO_FROM: 'whatsapp:+14155238886',
          TWILIO_MESSAGING_SERVICE_SID: '',
        }),
      },
    });
    template.hasOutput('StatusWebhookUrl', { Value: 'https://hooks.example.com/webhooks/twilio/status' });
    template.hasOutput('InboundWebhookUrl', { Value: 'https://hooks.example.com/webhooks/twilio/inbound' });
  });

  it('rejects malformed Twilio settings at synth', () => {
    expect(() => synth({ twilio: { accountSid: 'nope' } })).toThrow(/twilioAccountSid/);
    expect(() => synth({ publicBaseUrl: 'ftp://x' })).toThrow(/publicBaseUrl/);
  });

  it('refuses a consumer whose function does not declare consume access', () => {
    const noConsume: Topology = {
      ...topology,
      functions: { ...topology.functions, sendMessages: { ...topology.functions.sendMessages, uses: {} } },
    };
    expect(() => synth({ topology: noConsume })).toThrow(/must declare uses.queues.send/);
  });
});

/** A larger topology than today's: an index and an admin route whose function reads a dead-letter queue. */
const grownTopology: Topology = {
  ...topology,
  tables: {
    main: {
      ...topology.tables.main,
      globalIndexes: [...topology.tables.main.globalIndexes, { name: 'bySid', partitionKey: 'sid' }],
    },
  },
  functions: {
    ...topology.functions,
    api: {
      entry: 'functions/healthz.ts',
      description: 'Admin API',
      memoryMb: 512,
      timeoutSeconds: 25,
      uses: {
        tables: { main: 'readwrite' },
        queues: { send: 'send' },
        deadLetterQueues: { send: 'consume' },
      },
    },
  },
  routes: [
    ...topology.routes,
    { method: 'POST', path: '/v1/dead-letters/redrive', function: 'api', auth: 'admin' },
  ],
};

describe('cdk-nag AwsSolutions', () => {
  const findings = (app: App) =>
    new AwsSolutionsChecks(app)
      .validateScope(app)
      .violations.map(
        (v) => `${v.severity} ${v.ruleName} ${v.violatingResources.map((r) => r.constructPath)}`,
      );

  it('reports no unacknowledged errors or warnings, and synth passes with the pack registered', () => {
    const { app } = build();
    expect(findings(app)).toEqual([]);
    // As bin/app.ts registers it: a finding would make synth throw ValidationFailed.
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('stays clean as the topology grows (indexes, admin routes, dead-letter readers)', () => {
    const { app, template, stack } = synth({ topology: grownTopology });
    expect(findings(app)).toEqual([]);
    // Admin routes are authenticated by their handler (API.md's 401 shape), not by API Gateway.
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /v1/dead-letters/redrive',
      AuthorizationType: 'NONE',
    });
    const apiActions = roleStatements(template, stack, 'api').flatMap((s) => s.actions);
    expect(apiActions).toContain('sqs:ReceiveMessage');
    expect(roleStatements(template, stack, 'apiDocs').flatMap((s) => s.actions)).not.toContain(
      'dynamodb:PutItem',
    );
  });

  it('acknowledges only specific findings, each with a reason, never on the stack as a whole', () => {
    const { app, stack } = synth({ topology: grownTopology });
    // Bucket objects are granted by key prefix (`<Bucket.Arn>/imports/*`); S1 is the uploads bucket's
    // server access logs (lib/stack.ts says why not).
    // The schedules of the stack's schedule group (named at runtime); SQS3 on that group's DLQ, itself a DLQ.
    // The secrets under the stack's tenant-secret prefix (one per tenant, named at runtime).
    const allowed =
      /^AwsSolutions-(IAM5\[Resource::(\*|<\w+\.Arn>\/index\/\*|<\w+\.Arn>\/\w+\/\*|arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule\/[\w-]+\/\*|arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:[\w-]+\/\w+\/\*)\]|SMG4|APIG4|S1|SQS3)$/;
    const acks = app.node
      .findAll()
      .flatMap((c) =>
        c.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .map((m) => ({ path: c.node.path, data: m.data as Record<string, string> })),
      );
    expect(acks.length).toBeGreaterThan(0);
    for (const { path, data } of acks) {
      expect(path).not.toBe(stack.node.path);
      for (const [id, reason] of Object.entries(data)) {
        expect(id.replace(/^annotation::/i, '')).toMatch(allowed);
        expect(reason.length).toBeGreaterThan(20);
      }
    }
  });
});

const MB = 1024 * 1024;
/** Functions that send messages through the twilio SDK's client. */
const WHOLE_TWILIO_SDK = new Set(['sendMessages', 'sweepStuck']);
/** Functions that read Content templates (functions/adapters/twilio-templates.ts). */
const TWILIO_CONTENT_ONLY = new Set([
  'createBroadcast',
  'previewBroadcast',
  'templates',
  // A campaign's template is checked at create; each run creates a broadcast (acceptBroadcast).
  'campaigns',
  'runSchedules',
]);

/**
 * Functions that emit the service's EMF metrics (functions/commons/emf-metrics.ts): the send path,
 * the webhooks, the sweeper, and every admin route (AuditWriteFailures, commons/admin-route.ts).
 */
const METRIC_FUNCTIONS = new Set([
  'sendMessages',
  'twilioStatusWebhook',
  'retryStatusCallbacks',
  'twilioInboundWebhook',
  'sweepStuck',
  ...topology.routes.filter((r) => r.auth === 'admin').map((r) => r.function),
]);

describe('bundling', () => {
  it('bundles every handler with the local esbuild, as ESM with source maps (no Docker), each no larger than what it calls needs', () => {
    const { app, stack, template } = synth({}, { bundle: true });
    const outdir = app.synth().directory;
    const sizes: Record<string, number> = {};
    for (const fnId of Object.keys(topology.functions)) {
      const fn = template.toJSON().Resources[logicalId(stack, fnOf(stack, fnId).function)];
      const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
      const bundle = join(outdir, `asset.${hash}`, 'index.mjs');
      expect(existsSync(bundle), bundle).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      const text = readFileSync(bundle, 'utf8');
      expect(text).toContain('createRequire');
      // Powertools Metrics (its EMF key) and Tracer's X-Ray SDK only where they are used.
      expect(text.includes('CloudWatchMetrics'), `${fnId} bundles Metrics`).toBe(METRIC_FUNCTIONS.has(fnId));
      expect(text.includes('AWS_XRAY_DAEMON_ADDRESS'), `${fnId} bundles Tracer`).toBe(
        TRACED_FUNCTIONS.has(fnId),
      );
      sizes[fnId] = statSync(bundle).size;
    }
    // The whole twilio SDK (~3.7 MB minified) only where messages are sent; the template readers
    // bundle its Content domain alone (~0.4 MB); every other function stays under 1 MB.
    for (const [fnId, bytes] of Object.entries(sizes)) {
      const limit = WHOLE_TWILIO_SDK.has(fnId) ? 6 : TWILIO_CONTENT_ONLY.has(fnId) ? 1.5 : 1;
      expect(bytes, `${fnId}: ${(bytes / MB).toFixed(2)} MB`).toBeLessThan(limit * MB);
    }
    // 42–51 s on a 2-core box next to two other files, 80 s with more load beside them.
  }, 180_000);
});
