import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localConfigFromEnv } from '../lib/local/config.ts';
import { type LocalTwin, startLocalTwin } from '../lib/local/twin.ts';
import { BroadcastStack } from '../lib/stack.ts';
import { topology } from '../lib/topology.ts';
import { testApp } from './support/cdk-app.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** `{ 'Fn::GetAtt': [id, 'Arn'] }` or `{ Ref: id }` → id. */
function logicalIdOf(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  return v.Ref ?? v['Fn::GetAtt']?.[0];
}

/** What the CDK template wires, in the same words as the twin's `wired`. */
function templateWiring(): {
  routes: string[];
  consumers: string[];
  schedules: string[];
  streams: string[];
  functionUrls: string[];
  notifications: string[];
  scheduleGroups: string[];
  eventBuses: string[];
} {
  const app = testApp({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new BroadcastStack(app, 'Parity');
  const resources = Template.fromStack(stack).toJSON().Resources as Resources;
  const fnByLogicalId = new Map(
    Object.entries(stack.functions).map(([id, f]) => [
      Stack.of(stack).getLogicalId(f.function.node.defaultChild as never),
      id,
    ]),
  );
  const queueByLogicalId = new Map(
    Object.entries(stack.queues).map(([id, q]) => [
      Stack.of(stack).getLogicalId(q.queue.node.defaultChild as never),
      id,
    ]),
  );
  const byType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  const integrationTarget = new Map(
    byType('AWS::ApiGatewayV2::Integration').map(([id, r]) => [
      id,
      fnByLogicalId.get(logicalIdOf(r.Properties.IntegrationUri) ?? ''),
    ]),
  );
  // A route's Target is `integrations/<integration id>`, built with Fn::Join.
  const routes = byType('AWS::ApiGatewayV2::Route').map(([, r]) => {
    const [, parts] = (r.Properties.Target as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return `${r.Properties.RouteKey} -> ${integrationTarget.get(logicalIdOf(parts[1]) ?? '')}`;
  });
  const tableByLogicalId = new Map(
    Object.entries(stack.tables).map(([id, t]) => [
      Stack.of(stack).getLogicalId(t.node.defaultChild as never),
      id,
    ]),
  );
  const mappings = byType('AWS::Lambda::EventSourceMapping');
  const fnOf = (r: { Properties: Record<string, unknown> }) =>
    fnByLogicalId.get(logicalIdOf(r.Properties.FunctionName) ?? '');
  // A queue's ARN is `Fn::GetAtt [queue, Arn]`; a table stream's is `Fn::GetAtt [table, StreamArn]`.
  const isStream = (r: { Properties: Record<string, unknown> }) =>
    (r.Properties.EventSourceArn as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[1] === 'StreamArn';
  const consumers = mappings
    .filter(([, r]) => !isStream(r))
    .map(([, r]) => `${queueByLogicalId.get(logicalIdOf(r.Properties.EventSourceArn) ?? '')} -> ${fnOf(r)}`);
  const streams = mappings
    .filter(([, r]) => isStream(r))
    .map(
      ([, r]) =>
        `${tableByLogicalId.get(logicalIdOf(r.Properties.EventSourceArn) ?? '')} stream -> ${fnOf(r)}`,
    );
  const functionUrls = byType('AWS::Lambda::Url').map(([, r]) => {
    const fn = fnByLogicalId.get(logicalIdOf(r.Properties.TargetFunctionArn) ?? '');
    const id = Object.entries(topology.functionUrls).find(([, u]) => u.function === fn)?.[0];
    return `${id} -> ${fn}`;
  });
  const schedules = byType('AWS::Events::Rule').map(([, r]) => {
    const targets = r.Properties.Targets as { Arn: unknown }[];
    return `${r.Properties.ScheduleExpression} -> ${targets.map((t) => fnByLogicalId.get(logicalIdOf(t.Arn) ?? '')).join(',')}`;
  });
  const bucketByLogicalId = new Map(
    Object.entries(stack.buckets).map(([id, b]) => [
      Stack.of(stack).getLogicalId(b.node.defaultChild as never),
      id,
    ]),
  );
  const notifications = byType('AWS::S3::Bucket').flatMap(([id, r]) => {
    const configs = ((r.Properties.NotificationConfiguration as Record<string, unknown> | undefined)
      ?.QueueConfigurations ?? []) as { Queue: unknown; Filter: { S3Key: { Rules: { Value: string }[] } } }[];
    return configs.map(
      (c) =>
        `${bucketByLogicalId.get(id)} ${c.Filter.S3Key.Rules[0]?.Value} -> ${queueByLogicalId.get(logicalIdOf(c.Queue) ?? '')}`,
    );
  });
  // A schedule group: its group resource, and the function its Scheduler role may invoke.
  const scheduleGroups = byType('AWS::Scheduler::ScheduleGroup').map(([, r]) => {
    const groupId = String(r.Properties.Name).replace(/^Parity-/, '');
    const roleId = Stack.of(stack).getLogicalId(
      (stack.node.findChild(`${groupId.charAt(0).toUpperCase()}${groupId.slice(1)}SchedulerRole`).node
        .defaultChild ?? {}) as never,
    );
    const invoked = byType('AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap(
        ([, p]) =>
          (p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement,
      )
      .filter((st) => st.Action === 'lambda:InvokeFunction')
      .map((st) => fnByLogicalId.get(logicalIdOf(st.Resource) ?? ''));
    return `${groupId} -> ${invoked.join(',')}`;
  });
  // An event bus, and the functions whose roles may put events on it.
  const fnByRoleId = new Map(
    Object.entries(stack.functions).map(([id, f]) => [
      Stack.of(stack).getLogicalId(f.role.node.defaultChild as never),
      id,
    ]),
  );
  const eventBuses = byType('AWS::Events::EventBus').map(([busLogicalId, r]) => {
    const busId = String(r.Properties.Name).replace(/^Parity-/, '');
    const publishers = byType('AWS::IAM::Policy')
      .filter(([, p]) =>
        (
          p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }
        ).Statement.some(
          (st) => st.Action === 'events:PutEvents' && logicalIdOf(st.Resource) === busLogicalId,
        ),
      )
      .flatMap(([, p]) =>
        (p.Properties.Roles as unknown[]).map((role) => fnByRoleId.get(logicalIdOf(role) ?? '')),
      )
      .sort();
    return `${busId} -> ${publishers.join(',')}`;
  });
  return { routes, consumers, schedules, streams, functionUrls, notifications, scheduleGroups, eventBuses };
}

let twin: LocalTwin;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'parity-'));
  twin = await startLocalTwin(
    localConfigFromEnv({ DATA_DIR: dataDir, PORT: '0', TWILIO_SIMULATOR_PORT: '0' }),
    { log: () => {} },
  );
}, 60_000);

afterAll(async () => {
  await twin?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('parity: the CDK stack and the local twin wire the same topology', () => {
  const cdk = templateWiring();

  it('every route, with the function serving it, and the $default route', () => {
    const expected = [
      ...topology.routes.map((r) => `${r.method} ${r.path} -> ${r.function}`),
      `$default -> ${topology.defaultRoute.function}`,
    ].sort();
    expect(cdk.routes.sort()).toEqual(expected);
    expect([...twin.wired.routes].sort()).toEqual(expected);
  });

  it('every queue consumer', () => {
    const expected = topology.consumers.map((c) => `${c.queue} -> ${c.function}`).sort();
    expect(cdk.consumers.sort()).toEqual(expected);
    expect([...twin.wired.consumers].sort()).toEqual(expected);
  });

  it('every stream consumer and function URL', () => {
    const streams = topology.streamConsumers.map((c) => `${c.table} stream -> ${c.function}`).sort();
    expect(cdk.streams.sort()).toEqual(streams);
    expect([...twin.wired.streams].sort()).toEqual(streams);
    const urls = Object.entries(topology.functionUrls)
      .map(([id, u]) => `${id} -> ${u.function}`)
      .sort();
    expect(cdk.functionUrls.sort()).toEqual(urls);
    expect([...twin.wired.functionUrls].sort()).toEqual(urls);
  });

  it('every schedule', () => {
    expect(cdk.schedules.sort()).toEqual(
      topology.schedules
        .map((s) => `rate(${s.everyMinutes} minute${s.everyMinutes === 1 ? '' : 's'}) -> ${s.function}`)
        .sort(),
    );
    expect([...twin.wired.schedules].sort()).toEqual(
      topology.schedules.map((s) => `${s.id} -> ${s.function}`).sort(),
    );
  });

  it('every schedule group (EventBridge Scheduler), with the one function its schedules invoke', () => {
    const expected = Object.entries(topology.scheduleGroups)
      .map(([id, g]) => `${id} -> ${g.target}`)
      .sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(cdk.scheduleGroups.sort()).toEqual(expected);
    expect([...twin.wired.scheduleGroups].sort()).toEqual(expected);
  });

  it('every event bus (EventBridge), with the functions that put events on it', () => {
    const expected = Object.entries(topology.eventBuses)
      .map(
        ([id]) =>
          `${id} -> ${Object.entries(topology.functions)
            .filter(([, fn]) =>
              ((fn.uses as { eventBuses?: readonly string[] }).eventBuses ?? []).includes(id),
            )
            .map(([name]) => name)
            .sort()
            .join(',')}`,
      )
      .sort();
    expect(expected).toEqual(['lifecycle -> publishEvents']);
    expect(cdk.eventBuses.sort()).toEqual(expected);
    expect([...twin.wired.eventBuses].sort()).toEqual(expected);
  });

  it('every bucket notification (S3 ObjectCreated events to a queue)', () => {
    const expected = Object.entries(topology.buckets)
      .flatMap(([id, b]) => b.notifications.map((n) => `${id} ${n.prefix} -> ${n.queue}`))
      .sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(cdk.notifications.sort()).toEqual(expected);
    expect([...twin.wired.notifications].sort()).toEqual(expected);
  });

  it('every route answers through the twin (none is left unwired)', async () => {
    for (const route of topology.routes.filter((r) => !r.path.includes('{'))) {
      const res = await fetch(`${twin.apiUrl}${route.path}`, { method: route.method });
      expect(res.status, `${route.method} ${route.path}`).not.toBe(404);
    }
  });
});
