import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type App, type CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkAlarmEmail,
  SEND_FAILURE_RATE_PERCENT,
  ServiceAlarms,
  TWILIO_WEBHOOK_AUTH_FAILURES_THRESHOLD,
} from '../lib/alarms.ts';
import { BroadcastStack, type BroadcastStackProps } from '../lib/stack.ts';
import { topology } from '../lib/topology.ts';
import { TRACED_FUNCTIONS } from '../lib/tracing.ts';
import { testApp } from './support/cdk-app.ts';

/**
 * Alarms that notify someone, the dashboard and tracing (lib/alarms.ts, lib/dashboard.ts,
 * lib/tracing.ts): one synthesized stack with an alarm email and tracing on; the alarms module alone
 * without an email.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cdkJsonContext = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: object })
  .context;
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, checked by the matchers.
type Json = Record<string, any>;

function synth(props: BroadcastStackProps) {
  const app = testApp({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
  const stack = new BroadcastStack(app, 'Observed', { console: false, senderMps: 120, ...props });
  return { app, stack, template: Template.fromStack(stack) };
}

let stack: BroadcastStack;
let template: Template;
let app: App;
let resources: Record<string, Json>;
beforeAll(() => {
  ({ app, stack, template } = synth({ alarmEmail: 'ops@example.com', tracing: true }));
  resources = template.toJSON().Resources;
}, 120_000);

const topicRef = () => ({ Ref: stack.getLogicalId(stack.alarms.topic.node.defaultChild as CfnResource) });
const alarms = () =>
  Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm') as [string, Json][];
const alarmOn = (predicate: (props: Json) => boolean) => {
  const found = alarms().filter(([, r]) => predicate(r.Properties));
  expect(found.length, 'alarms found').toBeGreaterThan(0);
  return found.map(([, r]) => r.Properties);
};
const usesMetric = (props: Json, name: string, dims: Record<string, string> = {}) =>
  JSON.stringify(props).includes(`"MetricName":"${name}"`) &&
  Object.entries(dims).every(([k, v]) => JSON.stringify(props).includes(`{"Name":"${k}","Value":"${v}"}`));

describe('the alarm topic', () => {
  it('is encrypted with a rotated key CloudWatch may use, TLS only, with the email subscribed', () => {
    const topic = Object.values(resources).find((r) => r.Type === 'AWS::SNS::Topic');
    expect(topic?.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, PendingWindowInDays: 7 });
    // Torn down with the stack, not left billing.
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
    const key = Object.values(resources).find((r) => r.Type === 'AWS::KMS::Key');
    expect(JSON.stringify(key?.Properties.KeyPolicy)).toContain('cloudwatch.amazonaws.com');
    const policy = Object.values(resources).find((r) => r.Type === 'AWS::SNS::TopicPolicy');
    expect(JSON.stringify(policy?.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: topicRef(),
    });
    template.hasOutput('AlarmTopicArn', { Value: topicRef() });
  });

  it('exists without an email (the output says how to subscribe); a malformed email fails the synth', () => {
    // The alarms module alone, in a small stack (a whole second synth would cost seconds).
    const small = new Stack(testApp(), 'Small');
    new ServiceAlarms(small, 'Alarms', {
      functions: { one: lambda.Function.fromFunctionName(small, 'One', 'one') },
      api: new apigw.HttpApi(small, 'Api'),
      serviceName: 'svc',
    });
    const bare = Template.fromStack(small);
    bare.resourceCountIs('AWS::SNS::Topic', 1);
    bare.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(JSON.stringify(bare.findOutputs('AlarmTopicArn'))).toContain('aws sns subscribe');
    expect(() => checkAlarmEmail('ops@example.com,cto@example.com')).toThrow(/alarmEmail/);
    expect(checkAlarmEmail(' ops@example.com ')).toBe('ops@example.com');
  });
});

describe('alarms', () => {
  it('every alarm of the stack notifies the topic, when it fires and when it is OK again', () => {
    expect(alarms().length).toBeGreaterThan(2 * Object.keys(topology.functions).length);
    for (const [id, alarm] of alarms()) {
      expect(alarm.Properties.AlarmActions, id).toEqual([topicRef()]);
      expect(alarm.Properties.OKActions, id).toEqual([topicRef()]);
    }
  });

  it('covers errors and throttles of every function, and the existing DLQ and stream alarms still exist', () => {
    for (const [fnId] of Object.entries(topology.functions)) {
      const fnRef = {
        Ref: stack.getLogicalId(stack.functions[fnId]?.function.node.defaultChild as CfnResource),
      };
      for (const metric of ['Errors', 'Throttles'])
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: fnRef }],
        });
    }
    alarmOn((p) => p.MetricName === 'ApproximateNumberOfMessagesVisible');
    alarmOn((p) => p.MetricName === 'IteratorAge');
  });

  it('the API 5xx rate, the send failure rate, stuck broadcasts and Twilio auth failures', () => {
    const [api5xx] = alarmOn((p) => usesMetric(p, '5xx') && usesMetric(p, 'Count'));
    expect(JSON.stringify(api5xx)).toContain('AWS/ApiGateway');
    const [failures] = alarmOn((p) => usesMetric(p, 'MessagesSent') && usesMetric(p, 'MessagesFailed'));
    expect(failures?.Threshold).toBe(SEND_FAILURE_RATE_PERCENT);
    expect(JSON.stringify(failures)).toContain('"Namespace":"WhatsAppBroadcast"');
    // The failure total (no ErrorCode dimension): the series the EMF documents publish alongside.
    expect(JSON.stringify(failures?.Metrics)).not.toContain('"Name":"ErrorCode"');
    alarmOn((p) => usesMetric(p, 'StuckBroadcasts'));
    alarmOn((p) => usesMetric(p, 'TwilioAuthFailures', { Source: 'rest' }) && p.Threshold === 1);
    alarmOn(
      (p) =>
        usesMetric(p, 'TwilioAuthFailures', { Source: 'webhook' }) &&
        p.Threshold === TWILIO_WEBHOOK_AUTH_FAILURES_THRESHOLD,
    );
    // Never a tenant or broadcast dimension (each combination would be a billed metric).
    expect(JSON.stringify(alarms())).not.toMatch(/"Name":"(tenantId|broadcastId|TenantId|BroadcastId)"/);
  });
});

describe('the operations dashboard', () => {
  it("draws sends against the sender's limit, outcomes, latency, every queue and the cost drivers; its URL is an output", () => {
    const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    expect(body).toContain('Sender limit: 120/s');
    expect(body).toContain('\\"value\\":120');
    for (const text of [
      'MessagesSent',
      'StatusCallbacks',
      'MessagesFailed',
      'FirstSendLatency',
      'MissedSendSlots',
      'ApproximateNumberOfMessagesVisible',
      'send DLQ',
      'schedules schedule DLQ',
      'ConsumedWriteCapacityUnits',
      'NumberOfEmptyReceives',
      'Duration',
    ])
      expect(body, text).toContain(text);
    template.hasOutput('DashboardUrl', {});
    expect(JSON.stringify(template.findOutputs('DashboardUrl'))).toContain('#dashboards:name=');
  });
});

describe('tracing and cdk-nag', () => {
  it('with tracing on, only the send consumer and the webhooks are traced, with Powertools Tracer on', () => {
    for (const fnId of Object.keys(topology.functions)) {
      const fn =
        resources[stack.getLogicalId(stack.functions[fnId]?.function.node.defaultChild as CfnResource)];
      const traced = TRACED_FUNCTIONS.has(fnId);
      expect(fn?.Properties.TracingConfig, fnId).toEqual(traced ? { Mode: 'Active' } : undefined);
      expect(fn?.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED, fnId).toBe(
        traced ? 'true' : undefined,
      );
    }
  });

  it('reports no unacknowledged cdk-nag findings with the topic, alarms, dashboard and tracing', {
    timeout: 60_000,
  }, () => {
    const findings = new AwsSolutionsChecks(app)
      .validateScope(app)
      .violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath)}`);
    expect(findings).toEqual([]);
  });
});
