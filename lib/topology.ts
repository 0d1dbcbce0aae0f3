import {
  COUNTS_BATCH_WINDOW_SECONDS,
  STREAM_MAX_RECORD_AGE_SECONDS,
} from '../functions/core/count-deltas.ts';
import {
  IMPORT_FILE_RETENTION_DAYS,
  IMPORT_QUEUE_MAX_RECEIVES,
  IMPORTS_PREFIX,
  UPLOAD_RETENTION_DAYS,
  UPLOADS_PREFIX,
} from '../functions/core/imports.ts';
import { visibilityTimeoutFor } from '../functions/core/recovery.ts';
import {
  CALLBACK_RETRY_TIMEOUT_SECONDS,
  ERASE_TIMEOUT_SECONDS,
  FAN_OUT_TIMEOUT_SECONDS,
  functions,
  GROUP_CLEANUP_TIMEOUT_SECONDS,
  IMPORT_TIMEOUT_SECONDS,
  SEND_TIMEOUT_SECONDS,
} from './topology-functions.ts';
import { routes } from './topology-routes.ts';

/**
 * The one declaration of the system's topology: functions, HTTP routes, queues and
 * their consumers, scheduled rules, tables and secrets.
 *
 * Two builders read it and nothing else: the CDK stack (lib/stack.ts) for AWS, and the
 * local twin (lib/local/twin.ts) for one machine. A route, consumer or schedule cannot
 * exist in one and be missing in the other, and test/parity.test.ts holds them to it.
 *
 * Resources are referenced by id; a function's `uses` both grants it least-privilege
 * access on AWS and injects the resource's environment variable (table name, queue URL,
 * secret ARN) in both builders, so handlers never learn where they run.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface TableSpec {
  /** Environment variable that carries the table name to functions that use it. */
  readonly envVar: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /** Items with this epoch-seconds attribute expire (idempotency records, rate windows). */
  readonly timeToLiveAttribute?: string;
  /** The table's change stream (DynamoDB Streams), read by the stream consumers below. */
  readonly stream?: 'NEW_AND_OLD_IMAGES' | 'NEW_IMAGE' | 'KEYS_ONLY';
  readonly globalIndexes: readonly {
    readonly name: string;
    readonly partitionKey: string;
    readonly sortKey?: string;
  }[];
}

export interface QueueSpec {
  readonly envVar: string;
  /** Lambda's guidance: at least 6x the consumer's timeout, so an in-flight batch is never redelivered. */
  readonly visibilityTimeoutSeconds: number;
  readonly retentionDays: number;
  readonly deadLetter: {
    /** Receives before SQS moves a message to the dead-letter queue. */
    readonly maxReceiveCount: number;
    readonly envVar: string;
    readonly retentionDays: number;
  };
}

/**
 * A function's own HTTPS endpoint (a Lambda Function URL on AWS: no API Gateway request per call),
 * for callers that are not admins: Twilio's per-message status callbacks. Public; the function
 * checks the caller itself (X-Twilio-Signature).
 */
export interface FunctionUrlSpec {
  readonly function: string;
  /** Environment variable that carries the URL to the functions that use it (`uses.functionUrls`). */
  readonly envVar: string;
}

/**
 * An S3 bucket (private, encrypted, TLS only). Its objects live under key prefixes, each with its own
 * expiry (a lifecycle rule), and S3 announces the objects created under a notified prefix on a queue,
 * with its own event JSON (on AWS the bucket's notification configuration; the twin emulates it).
 */
export interface BucketSpec {
  /** Environment variable that carries the bucket name to functions that use it. */
  readonly envVar: string;
  /** Objects under `prefix` are deleted `days` after they were written. */
  readonly expirations: readonly { readonly prefix: string; readonly days: number }[];
  /** ObjectCreated events of objects under `prefix` go to `queue`. */
  readonly notifications: readonly { readonly prefix: string; readonly queue: string }[];
  /** Browsers may PUT to presigned URLs (CORS), from the origin the stack is given. */
  readonly browserUploads?: boolean;
}

/** What a function may do with a bucket's objects, by key prefix (`uploads/`). */
export interface BucketAccess {
  readonly read?: readonly string[];
  readonly write?: readonly string[];
  readonly delete?: readonly string[];
}

export interface SecretSpec {
  /** Environment variable that carries the secret's ARN on AWS. */
  readonly envVar: string;
  readonly description: string;
}

/**
 * Secrets created at run time under a name prefix (one per tenant, say), not by the stack: functions
 * that use the prefix get it in `envVar` and IAM on the names under it only.
 */
export interface SecretPrefixSpec {
  readonly envVar: string;
  readonly description: string;
}

/** `read`: GetSecretValue; `write`: also create, change and delete the secrets under the prefix. */
export type SecretPrefixAccess = 'read' | 'write';

/**
 * A DynamoDB action as IAM names it (`dynamodb:<action>`). A TransactWriteItems is authorized item
 * by item as PutItem, UpdateItem, DeleteItem or ConditionCheckItem, a TransactGetItems as GetItem
 * (DynamoDB developer guide, "Using IAM with DynamoDB transactions"); BatchGetItem and BatchWriteItem
 * are actions of their own.
 */
export type DynamoAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'Scan'
  | 'ConditionCheckItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'BatchWriteItem'
  | 'DescribeTable';

/**
 * Exactly what a function does with a table (lib/table-access.ts resolves it, lib/table-grants.ts
 * makes the IAM policy, lib/local/grant-guard.ts refuses the rest on the twin).
 */
export interface TableGrant {
  readonly actions: readonly DynamoAction[];
  /** Global secondary indexes it queries (by name: the policy names each index's ARN). */
  readonly indexes?: readonly string[];
  /**
   * The item families it touches, as IAM StringLike patterns of their partition keys (`TENANT#*`,
   * `BROADCAST#*`; the families in functions/adapters/table-layout.ts): the `dynamodb:LeadingKeys`
   * condition of its table statement (DynamoDB developer guide, "Using IAM policy conditions for
   * fine-grained access control"). Absent: any item. Index queries are not held to it.
   */
  readonly leadingKeys?: readonly string[];
}

/**
 * `'read'` and `'readwrite'` are the coarse grants of before (CDK's grantReadData and
 * grantReadWriteData, every index, any item); TableGrants say exactly what the function calls, one
 * IAM statement each (so reading API keys and writing recipients never adds up to writing API keys).
 */
export type TableAccess = 'read' | 'readwrite' | TableGrant | readonly TableGrant[];
/** `depth`: read the queue's attributes only (message counts), for metrics. */
export type QueueAccess = 'send' | 'consume' | 'send+consume' | 'depth';

export interface FunctionSpec {
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Plain settings; resource names come from `uses`. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly uses: {
    readonly tables?: Readonly<Record<string, TableAccess>>;
    readonly queues?: Readonly<Record<string, QueueAccess>>;
    /** Also reads the queue's dead-letter queue (depth, redrive). */
    readonly deadLetterQueues?: Readonly<Record<string, QueueAccess>>;
    readonly secrets?: readonly string[];
    /** Secret name prefixes (secretPrefixes below) whose secrets it reads or writes. */
    readonly secretPrefixes?: Readonly<Record<string, SecretPrefixAccess>>;
    /** Function URLs it needs to know (to hand them to Twilio, say). */
    readonly functionUrls?: readonly string[];
    readonly buckets?: Readonly<Record<string, BucketAccess>>;
    /** Schedule groups whose schedules it creates, changes and deletes. */
    readonly scheduleGroups?: readonly string[];
    /** Event buses it puts events on (events:PutEvents on that bus only). */
    readonly eventBuses?: readonly string[];
  };
}

export interface RouteSpec {
  readonly method: HttpMethod;
  /** API Gateway path syntax: `/v1/broadcasts/{id}`. */
  readonly path: string;
  readonly function: string;
  /**
   * `public`: anyone may call it (health, OpenAPI, and Twilio webhooks, which check
   * X-Twilio-Signature themselves). `admin`: the handler requires a tenant API key
   * (functions/commons/admin-route.ts), so a bad key gets API.md's 401 error shape, which an
   * HTTP API authorizer cannot produce.
   */
  readonly auth: 'public' | 'admin';
}

export interface ConsumerSpec {
  readonly queue: string;
  readonly function: string;
  readonly batchSize: number;
  /** Lambda requires >= 1 s when batchSize > 10. */
  readonly maxBatchingWindowSeconds: number;
  /** The event source mapping's ScalingConfig.MaximumConcurrency (2..1000). */
  readonly maxConcurrency: number;
  readonly reportBatchItemFailures: boolean;
  /**
   * Raise maxConcurrency to what the WhatsApp sender's rate needs in flight (core/pacing.ts
   * sendConcurrencyFor), so a 400 or 1,000 messages/s sender is not capped by it.
   */
  readonly scaleWithSenderRate?: boolean;
}

/** A consumer of a table's stream (a DynamoDB event source mapping): ordered per item collection. */
export interface StreamConsumerSpec {
  readonly table: string;
  readonly function: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Only records whose sort key starts with this reach the function (the mapping's filter criteria). */
  readonly sortKeyPrefix?: string;
  /**
   * Or: only records matching one of these patterns (Lambda event filtering's syntax, on the record:
   * `{ eventName: ['INSERT'], dynamodb: { Keys: { sk: { S: [{ prefix: 'X#' }] } } } }`; values are
   * lists of exact strings or `{ prefix }`). Lambda allows 5 filters per mapping by default.
   */
  readonly filters?: readonly StreamFilterPattern[];
  /** The function answers `batchItemFailures` (ReportBatchItemFailures): retried from the first named. */
  readonly reportBatchItemFailures?: boolean;
  /** A failing batch is retried (bisected) this many times, then sent to the queue named here. */
  readonly retryAttempts: number;
  /** Records older than this go to the on-failure queue unprocessed (the sweeper's recount relies on it). */
  readonly maxRecordAgeSeconds: number;
  readonly onFailureQueue: string;
  /** What it means for the business when this consumer lags, and when it gives up on a batch (alarm text). */
  readonly lagMeans: string;
  readonly gaveUpMeans: string;
}

export interface ScheduleSpec {
  readonly id: string;
  readonly function: string;
  readonly description: string;
  /** EventBridge `rate(n minutes)` on AWS. */
  readonly everyMinutes: number;
  /** Locally the timer can be sped up with this setting (seconds); never on AWS. */
  readonly localIntervalEnvVar: string;
}

/** A Lambda event filtering pattern on a stream record (see StreamConsumerSpec.filters). */
export type StreamFilterPattern = {
  readonly [key: string]: StreamFilterPattern | readonly StreamFilterValue[];
};
export type StreamFilterValue = string | { readonly prefix: string };

/** A stream consumer's filter patterns: its `filters`, or the one its `sortKeyPrefix` means. */
export function streamFilterPatterns(
  consumer: Pick<StreamConsumerSpec, 'sortKeyPrefix' | 'filters'>,
): StreamFilterPattern[] {
  if (consumer.filters) return [...consumer.filters];
  if (consumer.sortKeyPrefix !== undefined)
    return [{ dynamodb: { Keys: { sk: { S: [{ prefix: consumer.sortKeyPrefix }] } } } }];
  return [];
}

/**
 * An EventBridge event bus the stack creates for the user's own integrations (the lifecycle events,
 * core/lifecycle-events.ts), with an archive of every event it takes (to replay a missed window).
 * Functions that `uses.eventBuses` it may put events on it and get its name in `envVar`. The twin's
 * local bus (lib/local/eventbridge-local.ts) stands in for it.
 */
export interface EventBusSpec {
  readonly envVar: string;
  readonly description: string;
  /** Days the archive keeps each event. */
  readonly archiveRetentionDays: number;
}

/**
 * An EventBridge Scheduler schedule group whose schedules the functions create at run time (one per
 * campaign, one per scheduled broadcast), all invoking one target function. On AWS the group, the
 * role Scheduler assumes to invoke the target (lambda:InvokeFunction on it only) and an SQS queue for
 * firings whose invocation kept failing; on the twin, its Scheduler emulator (lib/local/scheduler-local.ts).
 * Functions that `uses.scheduleGroups` it may create, update, read and delete its schedules, pass
 * that role, and get these environment variables.
 */
export interface ScheduleGroupSpec {
  /** Carries the group's name. */
  readonly envVar: string;
  /** The function every schedule of the group invokes. */
  readonly target: string;
  readonly targetArnEnvVar: string;
  readonly roleArnEnvVar: string;
  readonly deadLetter: { readonly envVar: string; readonly retentionDays: number };
}

/**
 * The HTTP API's `$default` route: the function that answers every request no route takes (an
 * unknown path, or a known path with another method), so those answers too are in API.md's shape.
 */
export interface DefaultRouteSpec {
  readonly function: string;
}

export interface Topology {
  readonly tables: Readonly<Record<string, TableSpec>>;
  readonly queues: Readonly<Record<string, QueueSpec>>;
  readonly buckets: Readonly<Record<string, BucketSpec>>;
  readonly secrets: Readonly<Record<string, SecretSpec>>;
  readonly secretPrefixes?: Readonly<Record<string, SecretPrefixSpec>>;
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly functionUrls: Readonly<Record<string, FunctionUrlSpec>>;
  readonly routes: readonly RouteSpec[];
  readonly defaultRoute?: DefaultRouteSpec;
  readonly consumers: readonly ConsumerSpec[];
  readonly streamConsumers: readonly StreamConsumerSpec[];
  readonly schedules: readonly ScheduleSpec[];
  readonly scheduleGroups: Readonly<Record<string, ScheduleGroupSpec>>;
  readonly eventBuses?: Readonly<Record<string, EventBusSpec>>;
}

/**
 * The lifecycle events' stream consumer retries a batch whose events the bus refused as long as the
 * stream keeps its records (24 hours, DynamoDB Streams' retention): AWS's upper bound on retries is
 * 10,000, and a record older than a day is gone from the stream anyway.
 */
const EVENTS_RETRY_ATTEMPTS = 10_000;
const EVENTS_MAX_RECORD_AGE_SECONDS = 86_400;
/** Broadcast statuses whose arrival is an event (broadcast.completed, .failed, .paused, .cancelled). */
const EVENTFUL_BROADCAST_STATUSES = ['completed', 'partial', 'failed', 'paused', 'cancelled'];

export const topology = {
  tables: {
    main: {
      envVar: 'TABLE_NAME',
      partitionKey: 'pk',
      sortKey: 'sk',
      timeToLiveAttribute: 'expiresAt',
      // The recipients' changes, for the counters (functions/aggregate-counts.ts).
      stream: 'NEW_AND_OLD_IMAGES',
      // Sparse indexes: an item is in one only while it has the key attributes.
      globalIndexes: [
        // A broadcast's recipients waiting for a retry window, by when: the retry job never scans the table.
        { name: 'retriesByBroadcast', partitionKey: 'retryKey', sortKey: 'nextRetryAt' },
        // Broadcasts not final yet, by tenant: the sweeper's and /v1/metrics' starting point.
        { name: 'activeBroadcasts', partitionKey: 'active', sortKey: 'activeKey' },
        // A tenant's named contacts by folded name: the contacts list's name-prefix search.
        { name: 'contactsByName', partitionKey: 'namePk', sortKey: 'nameSk' },
      ],
    },
  },
  queues: {
    send: {
      envVar: 'SEND_QUEUE_URL',
      visibilityTimeoutSeconds: visibilityTimeoutFor(SEND_TIMEOUT_SECONDS),
      retentionDays: 4,
      deadLetter: { maxReceiveCount: 5, envVar: 'SEND_DLQ_URL', retentionDays: 14 },
    },
    fanOut: {
      envVar: 'FAN_OUT_QUEUE_URL',
      visibilityTimeoutSeconds: visibilityTimeoutFor(FAN_OUT_TIMEOUT_SECONDS),
      retentionDays: 4,
      deadLetter: { maxReceiveCount: 5, envVar: 'FAN_OUT_DLQ_URL', retentionDays: 14 },
    },
    // Status callbacks the ledger could not take when they came (DynamoDB throttled or failing).
    callbackRetries: {
      envVar: 'CALLBACK_RETRY_QUEUE_URL',
      visibilityTimeoutSeconds: visibilityTimeoutFor(CALLBACK_RETRY_TIMEOUT_SECONDS),
      retentionDays: 4,
      deadLetter: { maxReceiveCount: 8, envVar: 'CALLBACK_RETRY_DLQ_URL', retentionDays: 14 },
    },
    // Groups being deleted whose memberships are still being removed (functions/group-cleanup.ts).
    groupCleanup: {
      envVar: 'GROUP_CLEANUP_QUEUE_URL',
      visibilityTimeoutSeconds: visibilityTimeoutFor(GROUP_CLEANUP_TIMEOUT_SECONDS),
      retentionDays: 4,
      deadLetter: { maxReceiveCount: 5, envVar: 'GROUP_CLEANUP_DLQ_URL', retentionDays: 14 },
    },
    // Erasures of a person (functions/erase-worker.ts): each task carries the number, so it lives in
    // SQS (encrypted at rest) only while the erasure runs, never in the table.
    erasures: {
      envVar: 'ERASURES_QUEUE_URL',
      visibilityTimeoutSeconds: visibilityTimeoutFor(ERASE_TIMEOUT_SECONDS),
      retentionDays: 4,
      deadLetter: { maxReceiveCount: 5, envVar: 'ERASURES_DLQ_URL', retentionDays: 14 },
    },
    // Stream batches the counters could not take after their retries (the event source's on-failure
    // destination): a record of what to recount, never silently dropped.
    countFailures: {
      envVar: 'COUNT_FAILURES_QUEUE_URL',
      visibilityTimeoutSeconds: 60,
      retentionDays: 14,
      deadLetter: { maxReceiveCount: 5, envVar: 'COUNT_FAILURES_DLQ_URL', retentionDays: 14 },
    },
    // Stream batches whose lifecycle events the bus kept refusing for a day (the on-failure
    // destination): where they were in the stream, to know which window of events was lost.
    eventFailures: {
      envVar: 'EVENT_FAILURES_QUEUE_URL',
      visibilityTimeoutSeconds: 60,
      retentionDays: 14,
      deadLetter: { maxReceiveCount: 5, envVar: 'EVENT_FAILURES_DLQ_URL', retentionDays: 14 },
    },
    // Contact imports: the uploads bucket's S3 events for new import files, and continuations.
    imports: {
      envVar: 'IMPORTS_QUEUE_URL',
      visibilityTimeoutSeconds: visibilityTimeoutFor(IMPORT_TIMEOUT_SECONDS),
      retentionDays: 4,
      deadLetter: {
        maxReceiveCount: IMPORT_QUEUE_MAX_RECEIVES,
        envVar: 'IMPORTS_DLQ_URL',
        retentionDays: 14,
      },
    },
  },
  buckets: {
    // Files too big for a request (POST /v1/uploads) and the files of contact imports.
    uploads: {
      envVar: 'UPLOADS_BUCKET',
      expirations: [
        { prefix: UPLOADS_PREFIX, days: UPLOAD_RETENTION_DAYS },
        { prefix: IMPORTS_PREFIX, days: IMPORT_FILE_RETENTION_DAYS },
      ],
      notifications: [{ prefix: IMPORTS_PREFIX, queue: 'imports' }],
      browserUploads: true,
    },
  },
  secrets: {
    twilioAuthToken: {
      envVar: 'TWILIO_AUTH_TOKEN_SECRET_ARN',
      description: 'Twilio auth token: signs REST calls and verifies X-Twilio-Signature on webhooks',
    },
  },
  secretPrefixes: {
    // Tenants' own Twilio accounts (PUT /v1/settings/twilio): one secret per tenant, <prefix><tenantId>.
    tenantTwilio: {
      envVar: 'TENANT_SECRETS_PREFIX',
      description: "Tenants' own Twilio account credentials, one secret per tenant",
    },
  },
  functions,
  functionUrls: {
    statusCallback: { function: 'twilioStatusWebhook', envVar: 'STATUS_CALLBACK_URL' },
  },
  routes,
  defaultRoute: { function: 'routeNotFound' },
  consumers: [
    {
      queue: 'fanOut',
      function: 'fanOut',
      // One chunk (up to 1,000 recipients) per invocation keeps each well inside its timeout.
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 4,
      reportBatchItemFailures: true,
    },
    {
      queue: 'send',
      function: 'sendMessages',
      batchSize: 50,
      maxBatchingWindowSeconds: 1,
      // The floor; the sender's rate raises it (scaleWithSenderRate).
      maxConcurrency: 2,
      reportBatchItemFailures: true,
      scaleWithSenderRate: true,
    },
    {
      queue: 'groupCleanup',
      function: 'groupCleanup',
      // One group per invocation, which works until its deadline and hands the rest on.
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 2,
      reportBatchItemFailures: true,
    },
    {
      queue: 'erasures',
      function: 'eraseWorker',
      // One erasure per invocation, which works until its deadline and hands the rest on.
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 2,
      reportBatchItemFailures: true,
    },
    {
      queue: 'callbackRetries',
      function: 'retryStatusCallbacks',
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 2,
      reportBatchItemFailures: true,
    },
    {
      queue: 'imports',
      function: 'importContacts',
      // One import per invocation: it uses the invocation's whole time, and hands over before the end.
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      // Imports of several tenants at once, without crowding the table's write capacity.
      maxConcurrency: 4,
      reportBatchItemFailures: true,
    },
  ],
  streamConsumers: [
    {
      table: 'main',
      function: 'aggregateCounts',
      // Large batches: one counter write per broadcast shard per batch, whatever its size. Waiting up
      // to 1 s for a batch (COUNTS_BATCH_WINDOW_SECONDS) keeps those writes few; the counts lag the
      // ledger by that much.
      batchSize: 1000,
      maxBatchingWindowSeconds: COUNTS_BATCH_WINDOW_SECONDS,
      sortKeyPrefix: 'R#',
      retryAttempts: 10,
      maxRecordAgeSeconds: STREAM_MAX_RECORD_AGE_SECONDS,
      onFailureQueue: 'countFailures',
      lagMeans: 'counts and statuses lag',
      gaveUpMeans: "their broadcasts' counts are repaired by the sweeper's recount once stalled",
    },
    {
      table: 'main',
      function: 'publishEvents',
      batchSize: 100,
      maxBatchingWindowSeconds: 1,
      // Only the items whose changes can be events (core/lifecycle-changes.ts): broadcasts inserted or
      // reaching an eventful status, imports finished, suppressions. Filtered records cost no invocation.
      filters: [
        { eventName: ['INSERT'], dynamodb: { Keys: { sk: { S: [{ prefix: 'BROADCAST#' }] } } } },
        {
          eventName: ['MODIFY'],
          dynamodb: {
            Keys: { sk: { S: [{ prefix: 'BROADCAST#' }] } },
            NewImage: { status: { S: EVENTFUL_BROADCAST_STATUSES } },
          },
        },
        {
          dynamodb: {
            Keys: { sk: { S: [{ prefix: 'IMPORT#' }] } },
            NewImage: { status: { S: ['completed', 'failed'] } },
          },
        },
        { dynamodb: { Keys: { pk: { S: [{ prefix: 'SUPPRESS#' }] } } } },
      ],
      reportBatchItemFailures: true,
      retryAttempts: EVENTS_RETRY_ATTEMPTS,
      maxRecordAgeSeconds: EVENTS_MAX_RECORD_AGE_SECONDS,
      onFailureQueue: 'eventFailures',
      lagMeans: 'lifecycle events reach the bus late',
      gaveUpMeans:
        "those lifecycle events were not published: see the function's logs for why, and rebuild what was missed from the API",
    },
  ],
  schedules: [
    {
      id: 'retryDue',
      function: 'retryFailed',
      description: 'Drives retries through their backoff windows',
      everyMinutes: 1,
      localIntervalEnvVar: 'RETRY_SCHEDULE_SECONDS',
    },
    {
      id: 'sweep',
      function: 'sweepStuck',
      description: 'Settles broadcasts; recovers recipients stuck by a lost queue message or lost callbacks',
      everyMinutes: 1,
      localIntervalEnvVar: 'SWEEP_SCHEDULE_SECONDS',
    },
  ],
  scheduleGroups: {
    // Campaigns' schedules (cmp_…) and scheduled broadcasts' one-time starts (brd_…).
    schedules: {
      envVar: 'SCHEDULE_GROUP_NAME',
      target: 'runSchedules',
      targetArnEnvVar: 'SCHEDULE_TARGET_ARN',
      roleArnEnvVar: 'SCHEDULER_ROLE_ARN',
      deadLetter: { envVar: 'SCHEDULE_DLQ_ARN', retentionDays: 14 },
    },
  },
  eventBuses: {
    // The lifecycle events, for the user's own rules and targets (docs/events/*.schema.json).
    lifecycle: {
      envVar: 'EVENT_BUS_NAME',
      description: "WhatsApp broadcast lifecycle events (source whatsapp-broadcast) for the user's own rules",
      archiveRetentionDays: 30,
    },
  },
} as const satisfies Topology;

export type FunctionId = keyof typeof topology.functions;
export type QueueId = keyof typeof topology.queues;
export type TableId = keyof typeof topology.tables;
export type BucketId = keyof typeof topology.buckets;
export type ScheduleGroupId = keyof typeof topology.scheduleGroups;
export type EventBusId = keyof typeof topology.eventBuses;
