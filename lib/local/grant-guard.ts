// The twin's IAM: each function's AWS SDK calls are checked against what its topology `uses` grants,
// and an undeclared call fails as it would on AWS, with an access-denied error from the SDK client.
// Without it, a handler that starts writing a table it was declared to only read passes every local
// test and fails in production. The function making a call is known from the invocation it runs in
// (AsyncLocalStorage, as the bench's request counter does); calls made outside any invocation (the
// twin's own, a test's) are not checked.
import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { SchedulerServiceException } from '@aws-sdk/client-scheduler';
import { SQSServiceException } from '@aws-sdk/client-sqs';
import { onEveryClient, type SdkClient, type SdkService } from '../../functions/commons/sdk-clients.ts';
import { grantAllows, resolveTableGrants } from '../table-access.ts';
import type { DynamoAction, FunctionSpec, QueueAccess, Topology } from '../topology.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './aws-local.ts';
import type { Invoke } from './lambda-runtime.ts';

/** A call the guard refused. */
export interface DeniedCall {
  readonly function: string;
  /** `dynamodb:PutItem`, `sqs:SendMessage`, … */
  readonly action: string;
  readonly resource: string;
  readonly message: string;
}

/** Where the twin put each declared resource, by topology id. */
export interface GuardedResources {
  readonly tables: Readonly<Record<string, string>>;
  /** Queue names (the last part of their URLs), main and dead-letter. */
  readonly queues: Readonly<Record<string, { readonly main: string; readonly deadLetter: string }>>;
  readonly buckets: Readonly<Record<string, string>>;
  readonly scheduleGroups: Readonly<Record<string, string>>;
}

export interface GrantGuard {
  /** Runs each invocation of `functionId` as that function, so its calls are checked. */
  wrap(functionId: string, invoke: Invoke): Invoke;
  /** The calls refused so far (the twin's stop() fails when any are left). */
  denied(): readonly DeniedCall[];
  /** Forgets the refused calls (a test that provokes one on purpose). */
  forget(): void;
  stop(): void;
}

/** A permission a call needed: `dynamodb:Query` on a table or index ARN, the partition keys it named. */
export interface CheckedPermission {
  readonly action: string;
  readonly arn: string;
  readonly keys?: readonly string[];
}

type Json = Record<string, unknown>;
interface Caller {
  readonly functionId: string;
  readonly spec: FunctionSpec;
}

const MIDDLEWARE_NAME = 'twinGrantGuard';
/** The guard of the running twin: middleware added to a client by an earlier twin finds the new one. */
let current:
  | { scope: AsyncLocalStorage<Caller>; check: (service: SdkService, op: string, input: Json) => void }
  | undefined;

/**
 * Starts checking: every SDK client the handlers make (functions/commons/sdk-clients.ts) gets a
 * middleware that refuses what the calling function's `uses` does not grant. `onDenied` hears each
 * refusal (the twin logs it).
 */
export function startGrantGuard(
  topo: Topology,
  where: GuardedResources,
  hear: {
    onDenied: (call: DeniedCall) => void;
    /** Every permission each checked call needed, allowed or not (TWIN_GRANTS_LOG). */
    onChecked?: (functionId: string, needs: readonly CheckedPermission[]) => void;
  },
): GrantGuard {
  const scope = new AsyncLocalStorage<Caller>();
  const denied: DeniedCall[] = [];
  const check = (service: SdkService, op: string, input: Json): void => {
    const caller = scope.getStore();
    if (!caller) return;
    if (hear.onChecked)
      hear.onChecked(
        caller.functionId,
        requiredPermissions(topo, where, service, op, input).map(({ action, arn, keys }) => ({
          action,
          arn,
          ...(keys ? { keys } : {}),
        })),
      );
    const refusal = refusalOf(topo, where, caller, service, op, input);
    if (!refusal) return;
    const call = { function: caller.functionId, ...refusal };
    denied.push(call);
    hear.onDenied(call);
    throw accessDenied(service, call.message);
  };
  current = { scope, check };
  const stopHook = onEveryClient(addGuard);
  return {
    wrap: (functionId, invoke) => {
      const spec = topo.functions[functionId];
      if (!spec) throw new Error(`No function ${functionId}`);
      return (event) => scope.run({ functionId, spec }, () => invoke(event));
    },
    denied: () => [...denied],
    forget: () => {
      denied.length = 0;
    },
    stop: () => {
      stopHook();
      if (current?.scope === scope) current = undefined;
    },
  };
}

function addGuard(client: SdkClient, service: SdkService): void {
  const add = client.middlewareStack.add as (
    middleware: (
      next: (args: { input: unknown }) => Promise<unknown>,
      context: { commandName?: string },
    ) => (args: { input: unknown }) => Promise<unknown>,
    options: { step: 'initialize'; name: string; override: boolean; priority: 'high' },
  ) => void;
  add.call(
    client.middlewareStack,
    (next, context) => async (args) => {
      const op = (context.commandName ?? '').replace(/Command$/, '');
      current?.check(service, op, (args.input ?? {}) as Json);
      return next(args);
    },
    { step: 'initialize', name: MIDDLEWARE_NAME, override: true, priority: 'high' },
  );
}

/** Why IAM would refuse this call of `caller`, or undefined when its grants allow it. */
export function refusalOf(
  topo: Topology,
  where: GuardedResources,
  caller: Caller,
  service: SdkService,
  op: string,
  input: Json,
): Omit<DeniedCall, 'function'> | undefined {
  const needs = requiredPermissions(topo, where, service, op, input);
  for (const need of needs) {
    if (allows(topo, caller.spec, need)) continue;
    const detail =
      need.keys && need.keys.length > 0 ? ` (items with partition keys ${need.keys.join(', ')})` : '';
    return {
      action: need.action,
      resource: need.arn,
      message: `User: arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${caller.functionId}-role/${caller.functionId} is not authorized to perform: ${need.action} on resource: ${need.arn}${detail} because no identity-based policy allows the ${need.action} action (lib/topology.ts: ${caller.functionId}.uses)`,
    };
  }
  return undefined;
}

/** One permission a call needs: an action on one resource (and, on a table, the items' partition keys). */
interface Permission {
  readonly action: string;
  readonly arn: string;
  readonly resource:
    | { kind: 'table'; id: string | undefined; index?: string }
    | { kind: 'queue'; id: string | undefined; deadLetter: boolean }
    | { kind: 'object'; bucket: string | undefined; key: string }
    | { kind: 'bucket'; bucket: string | undefined }
    | { kind: 'schedule'; group: string | undefined };
  readonly keys?: readonly string[];
}

function requiredPermissions(
  topo: Topology,
  where: GuardedResources,
  service: SdkService,
  op: string,
  input: Json,
): Permission[] {
  switch (service) {
    case 'dynamodb':
      return dynamoPermissions(topo, where, op, input);
    case 'sqs':
      return sqsPermissions(where, op, input);
    case 's3':
      return s3Permissions(where, op, input);
    case 'scheduler': {
      const groupName = String(input.GroupName ?? 'default');
      const group = idOf(where.scheduleGroups, groupName);
      return [
        {
          action: `scheduler:${op}`,
          arn: `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule/${groupName}/${String(input.Name ?? '*')}`,
          resource: { kind: 'schedule', group },
        },
      ];
    }
  }
}

function dynamoPermissions(topo: Topology, where: GuardedResources, op: string, input: Json): Permission[] {
  const table = (name: unknown, index?: string): Permission['resource'] => ({
    kind: 'table',
    id: idOf(where.tables, String(name)),
    ...(index ? { index } : {}),
  });
  const arn = (name: unknown, index?: string) =>
    `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${String(name)}${index ? `/index/${index}` : ''}`;
  const pkOf = (name: unknown, key: unknown): string => {
    const id = idOf(where.tables, String(name));
    const attribute = (id && topo.tables[id]?.partitionKey) || 'pk';
    return stringValue((key as Json | undefined)?.[attribute]);
  };
  const one = (action: DynamoAction, name: unknown, keys: readonly string[], index?: string): Permission => ({
    action: `dynamodb:${action}`,
    arn: arn(name, index),
    resource: table(name, index),
    keys,
  });
  switch (op) {
    case 'GetItem':
    case 'DeleteItem':
    case 'UpdateItem':
      return [one(op, input.TableName, [pkOf(input.TableName, input.Key)])];
    case 'PutItem':
      return [one(op, input.TableName, [pkOf(input.TableName, input.Item)])];
    case 'Query':
    case 'Scan': {
      const index = typeof input.IndexName === 'string' ? input.IndexName : undefined;
      const keys = op === 'Query' && !index ? [queriedPartition(topo, where, input)] : [];
      return [one(op, input.TableName, keys, index)];
    }
    case 'BatchGetItem':
      return Object.entries((input.RequestItems ?? {}) as Record<string, { Keys?: unknown[] }>).map(
        ([name, request]) =>
          one(
            'BatchGetItem',
            name,
            (request.Keys ?? []).map((k) => pkOf(name, k)),
          ),
      );
    case 'BatchWriteItem':
      return Object.entries(
        (input.RequestItems ?? {}) as Record<
          string,
          { PutRequest?: { Item?: unknown }; DeleteRequest?: { Key?: unknown } }[]
        >,
      ).map(([name, requests]) =>
        one(
          'BatchWriteItem',
          name,
          requests.map((r) => pkOf(name, r.PutRequest?.Item ?? r.DeleteRequest?.Key)),
        ),
      );
    case 'TransactWriteItems':
    case 'TransactGetItems': {
      const actions: Record<string, DynamoAction> = {
        Put: 'PutItem',
        Update: 'UpdateItem',
        Delete: 'DeleteItem',
        ConditionCheck: 'ConditionCheckItem',
        Get: 'GetItem',
      };
      return ((input.TransactItems ?? []) as Record<string, Json>[]).flatMap((item) =>
        Object.entries(item).map(([kind, request]) => {
          const action = actions[kind];
          if (!action) throw new Error(`Unknown transaction item ${kind}`);
          return one(action, request.TableName, [pkOf(request.TableName, request.Key ?? request.Item)]);
        }),
      );
    }
    default:
      return [
        { action: `dynamodb:${op}`, arn: arn(input.TableName), resource: table(input.TableName), keys: [] },
      ];
  }
}

/** The partition key value a Query's KeyConditionExpression names (`pk = :pk`, `#p = :v`). */
function queriedPartition(topo: Topology, where: GuardedResources, input: Json): string {
  const id = idOf(where.tables, String(input.TableName));
  const attribute = (id && topo.tables[id]?.partitionKey) || 'pk';
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (input.ExpressionAttributeValues ?? {}) as Json;
  for (const match of String(input.KeyConditionExpression ?? '').matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    const name = match[1]?.startsWith('#') ? names[match[1]] : match[1];
    if (name === attribute) return stringValue(values[match[2] as string]);
  }
  return '';
}

const SQS_ACTIONS: Record<string, string> = {
  SendMessage: 'SendMessage',
  SendMessageBatch: 'SendMessage',
  ReceiveMessage: 'ReceiveMessage',
  DeleteMessage: 'DeleteMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibility: 'ChangeMessageVisibility',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
  GetQueueAttributes: 'GetQueueAttributes',
  GetQueueUrl: 'GetQueueUrl',
};

function sqsPermissions(where: GuardedResources, op: string, input: Json): Permission[] {
  const url = String(input.QueueUrl ?? input.QueueName ?? '');
  const name = url.split('/').pop() ?? '';
  let resource: Permission['resource'] = { kind: 'queue', id: undefined, deadLetter: false };
  for (const [id, q] of Object.entries(where.queues)) {
    if (q.main === name) resource = { kind: 'queue', id, deadLetter: false };
    if (q.deadLetter === name) resource = { kind: 'queue', id, deadLetter: true };
  }
  return [
    {
      action: `sqs:${SQS_ACTIONS[op] ?? op}`,
      arn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}`,
      resource,
    },
  ];
}

const S3_OBJECT_ACTIONS: Record<string, string> = {
  GetObject: 'GetObject',
  HeadObject: 'GetObject',
  PutObject: 'PutObject',
  CreateMultipartUpload: 'PutObject',
  UploadPart: 'PutObject',
  CompleteMultipartUpload: 'PutObject',
  DeleteObject: 'DeleteObject',
};

function s3Permissions(where: GuardedResources, op: string, input: Json): Permission[] {
  const name = String(input.Bucket ?? '');
  const bucket = idOf(where.buckets, name);
  if (op === 'DeleteObjects') {
    const objects = ((input.Delete as Json | undefined)?.Objects ?? []) as { Key?: string }[];
    return objects.map((o) => ({
      action: 's3:DeleteObject',
      arn: `arn:aws:s3:::${name}/${o.Key ?? ''}`,
      resource: { kind: 'object', bucket, key: o.Key ?? '' },
    }));
  }
  if (op === 'CopyObject') {
    // Reads the source object and writes the destination: s3:GetObject and s3:PutObject (S3 API
    // reference, CopyObject, "Permissions").
    const source = decodeURIComponent(String(input.CopySource ?? '').replace(/^\//, ''));
    const [sourceBucket = '', ...rest] = source.split('/');
    const sourceKey = rest.join('/');
    const key = String(input.Key ?? '');
    return [
      {
        action: 's3:GetObject',
        arn: `arn:aws:s3:::${source}`,
        resource: { kind: 'object', bucket: idOf(where.buckets, sourceBucket), key: sourceKey },
      },
      {
        action: 's3:PutObject',
        arn: `arn:aws:s3:::${name}/${key}`,
        resource: { kind: 'object', bucket, key },
      },
    ];
  }
  const action = S3_OBJECT_ACTIONS[op];
  if (action) {
    const key = String(input.Key ?? '');
    return [
      {
        action: `s3:${action}`,
        arn: `arn:aws:s3:::${name}/${key}`,
        resource: { kind: 'object', bucket, key },
      },
    ];
  }
  const bucketAction = op === 'ListObjectsV2' || op === 'ListObjects' ? 'ListBucket' : op;
  return [
    { action: `s3:${bucketAction}`, arn: `arn:aws:s3:::${name}`, resource: { kind: 'bucket', bucket } },
  ];
}

/** CDK's grantSendMessages / grantConsumeMessages (aws-cdk-lib aws-sqs), which the stack uses. */
const QUEUE_ACTIONS: Record<QueueAccess, readonly string[]> = {
  send: ['SendMessage', 'GetQueueAttributes', 'GetQueueUrl'],
  consume: [
    'ReceiveMessage',
    'ChangeMessageVisibility',
    'GetQueueUrl',
    'DeleteMessage',
    'GetQueueAttributes',
  ],
  'send+consume': [
    'SendMessage',
    'ReceiveMessage',
    'ChangeMessageVisibility',
    'GetQueueUrl',
    'DeleteMessage',
    'GetQueueAttributes',
  ],
  depth: ['GetQueueAttributes'],
};
/** lib/schedule-groups.ts grantScheduleGroup. */
const SCHEDULE_ACTIONS = new Set(['CreateSchedule', 'UpdateSchedule', 'DeleteSchedule', 'GetSchedule']);

function allows(topo: Topology, spec: FunctionSpec, need: Permission): boolean {
  const action = need.action.split(':')[1] ?? '';
  const r = need.resource;
  switch (r.kind) {
    case 'table': {
      const access = r.id ? spec.uses.tables?.[r.id] : undefined;
      const table = r.id ? topo.tables[r.id] : undefined;
      if (!access || !table) return false;
      // Each grant is a statement of its own: one of them must allow the whole permission.
      return resolveTableGrants(access, table).some((grant) =>
        grantAllows(grant, action as DynamoAction, r.index, need.keys ?? []),
      );
    }
    case 'queue': {
      const access = r.id
        ? (r.deadLetter ? spec.uses.deadLetterQueues : spec.uses.queues)?.[r.id]
        : undefined;
      return access !== undefined && QUEUE_ACTIONS[access].includes(action);
    }
    case 'object': {
      const access = r.bucket ? spec.uses.buckets?.[r.bucket] : undefined;
      const prefixes =
        action === 'GetObject'
          ? access?.read
          : action === 'PutObject'
            ? access?.write
            : action === 'DeleteObject'
              ? access?.delete
              : undefined;
      return (prefixes ?? []).some((p) => r.key.startsWith(p));
    }
    case 'bucket': {
      const access = r.bucket ? spec.uses.buckets?.[r.bucket] : undefined;
      return action === 'ListBucket' && (access?.read ?? []).length > 0;
    }
    case 'schedule':
      return (
        r.group !== undefined &&
        (spec.uses.scheduleGroups ?? []).includes(r.group) &&
        SCHEDULE_ACTIONS.has(action)
      );
  }
}

function idOf(names: Readonly<Record<string, string>>, name: string): string | undefined {
  return Object.entries(names).find(([, n]) => n === name)?.[0];
}

/** A key attribute's string, from the document client's plain value or the raw client's `{ S }`. */
function stringValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'S' in value) return String((value as { S: unknown }).S);
  return String(value ?? '');
}

/** The error each service's SDK client throws for a call IAM refused (its name and HTTP status). */
function accessDenied(service: SdkService, message: string): Error {
  const metadata = { httpStatusCode: service === 'dynamodb' ? 400 : 403 };
  const fields = { $fault: 'client' as const, $metadata: metadata, message };
  switch (service) {
    case 'dynamodb':
      return new DynamoDBServiceException({ name: 'AccessDeniedException', ...fields });
    case 'sqs':
      return new SQSServiceException({ name: 'AccessDenied', ...fields });
    case 's3':
      return new S3ServiceException({ name: 'AccessDenied', ...fields });
    case 'scheduler':
      return new SchedulerServiceException({ name: 'AccessDeniedException', ...fields });
  }
}
