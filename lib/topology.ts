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
import { tableGrantProblems } from './table-access.ts';
import {
  ACCEPT_BROADCAST,
  ADMIN_AUTH,
  APPLY_STATUS,
  reads,
  SENDER_LOOKUPS,
  writes,
} from './table-grant-sets.ts';

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
 * The send and fan-out functions' timeouts: short, because they bound recovery (core/recovery.ts): a
 * task whose invocation died comes back after its queue's visibility timeout, twice this.
 */
const SEND_TIMEOUT_SECONDS = 30;
const FAN_OUT_TIMEOUT_SECONDS = 30;
const CALLBACK_RETRY_TIMEOUT_SECONDS = 30;
/**
 * The import worker runs up to Lambda's ceiling, 15 minutes, and hands over to a new invocation
 * before it (use-cases/import-contacts.ts). A crashed invocation's message comes back after the
 * queue's visibility timeout, twice this.
 */
const IMPORT_TIMEOUT_SECONDS = 900;
/** An erasure's worker runs up to 5 minutes per invocation (broadcast by broadcast), then hands over. */
const ERASE_TIMEOUT_SECONDS = 300;
/** A deleted group's cleanup runs up to 5 minutes per invocation (~100,000 memberships), then hands over. */
const GROUP_CLEANUP_TIMEOUT_SECONDS = 300;
/**
 * A campaign run or a scheduled broadcast's start creates or starts one broadcast through
 * acceptBroadcast: for a 100,000-member audience that is ~20 s of reads and chunk writes.
 */
const RUN_SCHEDULES_TIMEOUT_SECONDS = 120;
/**
 * The lifecycle events' stream consumer retries a batch whose events the bus refused as long as the
 * stream keeps its records (24 hours, DynamoDB Streams' retention): AWS's upper bound on retries is
 * 10,000, and a record older than a day is gone from the stream anyway.
 */
const EVENTS_RETRY_ATTEMPTS = 10_000;
const EVENTS_MAX_RECORD_AGE_SECONDS = 86_400;
/** Broadcast statuses whose arrival is an event (broadcast.completed, .failed, .paused). */
const EVENTFUL_BROADCAST_STATUSES = ['completed', 'partial', 'failed', 'paused'];

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
  functions: {
    healthz: {
      entry: 'functions/healthz.ts',
      description: 'Health: the main table and the send queue answer a read',
      memoryMb: 256,
      timeoutSeconds: 5,
      // Exactly the reads its checks make: GetItem on the table, GetQueueAttributes on the queue.
      uses: {
        tables: { main: { actions: ['GetItem'], leadingKeys: ['HEALTHZ'] } },
        queues: { send: 'depth' },
      },
    },
    createBroadcast: {
      entry: 'functions/create-broadcast.ts',
      description:
        "POST /v1/broadcasts (and /test-send): validates (the template against Twilio's Content API), stores the list in chunks, and hands it to the fan-out",
      memoryMb: 1024,
      // API Gateway gives up at 29 s; the handler only validates and stores a few chunk items.
      timeoutSeconds: 29,
      uses: {
        tables: { main: [...ADMIN_AUTH, ...ACCEPT_BROADCAST] },
        queues: { fanOut: 'send' },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'read' },
        // A broadcast with scheduledAt gets a one-time at() schedule that starts it.
        scheduleGroups: ['schedules'],
      },
    },
    queryBroadcasts: {
      entry: 'functions/query-broadcasts.ts',
      description: 'GET routes of /v1/broadcasts: one broadcast, the list, progress and recipients',
      memoryMb: 512,
      timeoutSeconds: 15,
      // Reads only, but for settling a finished broadcast as it is read (its status: commons/broadcasts.ts).
      uses: {
        tables: {
          main: [
            ...ADMIN_AUTH,
            { ...reads('TENANT', 'BROADCAST'), indexes: ['retriesByBroadcast'] },
            writes(['UpdateItem'], 'TENANT'),
          ],
        },
      },
    },
    manageBroadcasts: {
      entry: 'functions/manage-broadcasts.ts',
      description: 'POST /v1/broadcasts/{id}/cancel, /pause, /resume and /retry',
      memoryMb: 512,
      timeoutSeconds: 29,
      // Cancelling a scheduled broadcast deletes its at() schedule; a resume hands release tasks to the fan-out.
      uses: {
        tables: {
          main: [
            ...ADMIN_AUTH,
            { ...reads('TENANT', 'BROADCAST'), indexes: ['retriesByBroadcast'] },
            writes(['UpdateItem'], 'TENANT', 'BROADCAST'),
          ],
        },
        queues: { send: 'send', fanOut: 'send' },
        scheduleGroups: ['schedules'],
      },
    },
    metrics: {
      entry: 'functions/metrics.ts',
      description:
        "GET /v1/metrics: the tenant's pending, recent sends and failures, active broadcasts, dead letters",
      memoryMb: 256,
      timeoutSeconds: 10,
      uses: {
        tables: {
          main: [
            ...ADMIN_AUTH,
            { ...reads('TENANT', 'BROADCAST', 'ACTIVITY'), indexes: ['activeBroadcasts'] },
          ],
        },
        deadLetterQueues: { send: 'depth', fanOut: 'depth' },
      },
    },
    previewBroadcast: {
      entry: 'functions/preview-broadcast.ts',
      description: 'POST /v1/broadcasts/preview: the dry run of a broadcast (reads only)',
      memoryMb: 1024,
      timeoutSeconds: 29,
      // Reads the tenant's key, contacts, groups, suppressions, settings, send history and messaging-limit
      // book; asks Twilio for the template.
      uses: {
        tables: {
          main: [
            SENDER_LOOKUPS,
            ...ADMIN_AUTH,
            reads('SETTINGS', 'GROUPS', 'GROUP', 'CONTACTS', 'SUPPRESS', 'SENDS', 'LIMITBOOK'),
          ],
        },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'read' },
      },
    },
    settings: {
      entry: 'functions/settings.ts',
      description: "GET and PUT /v1/settings and /v1/settings/twilio: the tenant's settings and own sender",
      memoryMb: 256,
      // PUT /v1/settings/twilio asks Twilio (two reads of up to 5 s each) before it writes.
      timeoutSeconds: 15,
      // The deployment's token checks a sender on its account; a tenant's own token is written under the prefix.
      uses: {
        tables: {
          main: [
            ...ADMIN_AUTH,
            SENDER_LOOKUPS,
            writes(['PutItem', 'UpdateItem', 'DeleteItem'], 'SETTINGS', 'SENDERCLAIM', 'ACCOUNTCLAIM'),
          ],
        },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'write' },
      },
    },
    suppressions: {
      entry: 'functions/suppressions.ts',
      description: "Suppression lists (GET, POST, DELETE /v1/suppressions) and a contact's message history",
      memoryMb: 512,
      timeoutSeconds: 15,
      // The contact's message history names its broadcasts: read, never written.
      uses: {
        tables: {
          main: [
            ...ADMIN_AUTH,
            reads('SUPPRESS', 'CONTACT', 'TENANT', 'BROADCAST'),
            writes(['PutItem', 'DeleteItem'], 'SUPPRESS'),
          ],
        },
      },
    },
    addressBook: {
      entry: 'functions/address-book.ts',
      description: 'Contacts: PUT, GET, DELETE /v1/contacts/{phone} (an erasure) and the filtered list',
      memoryMb: 512,
      // An erasure removes the contact's memberships and its history's text in one request.
      timeoutSeconds: 29,
      uses: {
        tables: {
          main: [
            ...ADMIN_AUTH,
            { ...reads('CONTACTS', 'GROUPS', 'GROUP', 'SUPPRESS', 'CONTACT'), indexes: ['contactsByName'] },
            writes(['PutItem', 'UpdateItem', 'DeleteItem'], 'CONTACTS', 'GROUPS', 'GROUP', 'CONTACT'),
          ],
        },
      },
    },
    groups: {
      entry: 'functions/groups.ts',
      description: 'Groups and their members (/v1/groups…), member lists as CSV exports',
      // A CSV part is gathered in memory: up to 10,000 contacts, 5 MB of body.
      memoryMb: 1024,
      timeoutSeconds: 29,
      uses: {
        tables: {
          main: [
            ...ADMIN_AUTH,
            { ...reads('GROUPS', 'GROUP', 'CONTACTS', 'SUPPRESS', 'IDEM'), indexes: ['contactsByName'] },
            writes(
              ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'],
              'GROUPS',
              'GROUP',
              'CONTACTS',
              'IDEM',
            ),
          ],
        },
        queues: { groupCleanup: 'send' },
      },
    },
    groupCleanup: {
      entry: 'functions/group-cleanup.ts',
      description: "Removes a deleted group's memberships page by page, then the group",
      memoryMb: 512,
      timeoutSeconds: GROUP_CLEANUP_TIMEOUT_SECONDS,
      uses: {
        tables: {
          main: [
            reads('GROUPS', 'GROUP', 'CONTACTS'),
            writes(['UpdateItem', 'DeleteItem', 'BatchWriteItem'], 'GROUPS', 'GROUP', 'CONTACTS'),
          ],
        },
        queues: { groupCleanup: 'send+consume' },
      },
    },
    erasures: {
      entry: 'functions/erasures.ts',
      description:
        "POST /v1/erasures and GET /v1/erasures/{id}: a person's erasure, queued, and its progress",
      memoryMb: 256,
      timeoutSeconds: 10,
      // Records the erasure (ERASURES#) and hands it to the worker; the person's items are the worker's.
      uses: {
        tables: { main: [...ADMIN_AUTH, reads('ERASURES'), writes(['PutItem'], 'ERASURES')] },
        queues: { erasures: 'send' },
      },
    },
    eraseWorker: {
      entry: 'functions/erase-worker.ts',
      description:
        "Erases a person from the tenant's items: contact, memberships, history, recipients in every broadcast",
      memoryMb: 512,
      timeoutSeconds: ERASE_TIMEOUT_SECONDS,
      // Deletes the person's contact, memberships, history and send history; redacts their recipients,
      // stored lists, import errors and campaign audiences (TENANT#, BROADCAST#); keeps the suppression.
      uses: {
        tables: {
          main: [
            reads('ERASURES', 'CONTACTS', 'GROUPS', 'GROUP', 'CONTACT', 'TENANT', 'BROADCAST', 'SUPPRESS'),
            writes(['PutItem', 'UpdateItem'], 'ERASURES'),
            writes(['UpdateItem'], 'TENANT', 'BROADCAST', 'SUPPRESS', 'GROUPS'),
            writes(['DeleteItem', 'BatchWriteItem'], 'CONTACTS', 'GROUP', 'CONTACT', 'SENDS'),
          ],
        },
        queues: { erasures: 'send+consume' },
      },
    },
    templates: {
      entry: 'functions/templates.ts',
      description: "GET /v1/templates: the Twilio account's Content templates and their WhatsApp approval",
      memoryMb: 512,
      // A list may take a few Content API pages of 1,000 (5 s each at most).
      timeoutSeconds: 29,
      // Reads the API key (GetItem) and calls Twilio with the auth token; writes only what every admin
      // route writes (ADMIN_AUTH).
      uses: {
        tables: { main: [...ADMIN_AUTH, SENDER_LOOKUPS] },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'read' },
      },
    },
    routeNotFound: {
      entry: 'functions/route-not-found.ts',
      description: 'The $default route: 404 or 405 in the API error shape for requests no route takes',
      memoryMb: 256,
      timeoutSeconds: 5,
      uses: {},
    },
    apiDocs: {
      entry: 'functions/openapi.ts',
      description: 'GET /openapi.json, generated from the same schemas that validate requests',
      memoryMb: 256,
      timeoutSeconds: 5,
      uses: {},
    },
    fanOut: {
      entry: 'functions/fan-out.ts',
      description: "Hands a stored chunk of a broadcast's list to the send queue, one task per recipient",
      memoryMb: 256,
      timeoutSeconds: FAN_OUT_TIMEOUT_SECONDS,
      uses: {
        tables: {
          main: [
            reads('TENANT', 'BROADCAST', 'SENDS', 'LIMITBOOK'),
            writes(['PutItem', 'UpdateItem'], 'TENANT', 'BROADCAST', 'SENDS', 'LIMITBOOK'),
          ],
        },
        queues: { fanOut: 'send+consume', send: 'send' },
      },
    },
    twilioStatusWebhook: {
      entry: 'functions/twilio-status-webhook.ts',
      description: "Twilio's status callbacks: signature checked, one conditional update of the recipient",
      // Small and fast: three calls per message sent, each one signature check and one write; its
      // bundle has no Twilio SDK (only its webhook module).
      memoryMb: 128,
      timeoutSeconds: 10,
      uses: {
        // Updates and puts only: a status callback never deletes anything.
        tables: { main: APPLY_STATUS },
        queues: { callbackRetries: 'send' },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'read' },
      },
    },
    retryStatusCallbacks: {
      entry: 'functions/retry-status-callbacks.ts',
      description: 'Applies status callbacks again whose ledger write failed when they arrived',
      memoryMb: 256,
      timeoutSeconds: CALLBACK_RETRY_TIMEOUT_SECONDS,
      uses: { tables: { main: APPLY_STATUS }, queues: { callbackRetries: 'consume' } },
    },
    aggregateCounts: {
      entry: 'functions/aggregate-counts.ts',
      description: "Counts recipients' changes from the table's stream, exactly once, and settles broadcasts",
      memoryMb: 256,
      timeoutSeconds: 60,
      // Counters, activity minutes and settling (BROADCAST#, ACTIVITY#, TENANT#); the contacts' history.
      uses: {
        tables: {
          main: [
            reads('TENANT', 'BROADCAST', 'CONTACT'),
            writes(['UpdateItem'], 'TENANT', 'BROADCAST', 'ACTIVITY'),
            writes(['PutItem', 'BatchWriteItem'], 'CONTACT'),
          ],
        },
      },
    },
    publishEvents: {
      entry: 'functions/publish-events.ts',
      description:
        "Lifecycle events (broadcast.created, .completed, …) from the table's stream onto the event bus, at least once",
      memoryMb: 256,
      timeoutSeconds: 60,
      // Reads a finished broadcast's counters; puts events on the lifecycle bus.
      // Reads a finished broadcast's counts (its shards) for broadcast.completed; the rest is in the record.
      uses: { tables: { main: reads('BROADCAST') }, eventBuses: ['lifecycle'] },
    },
    twilioInboundWebhook: {
      entry: 'functions/twilio-inbound-webhook.ts',
      description:
        'Incoming WhatsApp messages: signature checked; confirmation taps, opt-out and opt-in words, history',
      memoryMb: 512,
      timeoutSeconds: 10,
      // An opt-in word removes the person's suppression (DeleteItem on SUPPRESS# only).
      uses: {
        tables: {
          main: [
            SENDER_LOOKUPS,
            reads('SID', 'BROADCAST', 'TENANT', 'CONTACT', 'INBOUND', 'SUPPRESS'),
            writes(['PutItem', 'UpdateItem'], 'SUPPRESS', 'INBOUND', 'CONTACT', 'BROADCAST', 'SID'),
            writes(['DeleteItem'], 'SUPPRESS'),
          ],
        },
        queues: { send: 'send' },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'read' },
      },
    },
    sendMessages: {
      entry: 'functions/send-messages.ts',
      description: 'Consumes the send queue and sends each recipient its WhatsApp template, once',
      memoryMb: 256,
      timeoutSeconds: SEND_TIMEOUT_SECONDS,
      uses: {
        tables: {
          main: [
            SENDER_LOOKUPS,
            reads('TENANT', 'BROADCAST', 'SUPPRESS', 'PACE', 'CONTACT', 'SID'),
            writes(['PutItem', 'UpdateItem'], 'TENANT', 'BROADCAST', 'PACE', 'SID', 'CONTACT'),
          ],
        },
        queues: { send: 'send+consume' },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'read' },
        functionUrls: ['statusCallback'],
      },
    },
    retryFailed: {
      entry: 'functions/retry-failed.ts',
      description: 'Every minute: re-queues transient failures whose backoff window has passed',
      memoryMb: 512,
      timeoutSeconds: 120,
      uses: {
        tables: {
          main: [
            { ...reads('TENANT', 'BROADCAST'), indexes: ['activeBroadcasts', 'retriesByBroadcast'] },
            writes(['UpdateItem'], 'BROADCAST'),
          ],
        },
        queues: { send: 'send' },
      },
    },
    contactImports: {
      entry: 'functions/contact-imports.ts',
      description:
        'POST /v1/uploads and /v1/contacts/imports, GET /v1/contacts/imports[/{importId}]: presigned uploads, starting imports, their progress',
      // A CSV body of up to ~6 MB is checked and stored within the request.
      memoryMb: 1024,
      timeoutSeconds: 29,
      uses: {
        // An import that could not start is discarded whole (DeleteItem of its own items).
        tables: {
          main: [
            ...ADMIN_AUTH,
            reads('TENANT', 'GROUPS', 'IMPIDEM'),
            writes(['PutItem', 'UpdateItem', 'DeleteItem'], 'TENANT', 'IMPIDEM'),
          ],
        },
        buckets: {
          uploads: {
            read: [UPLOADS_PREFIX],
            write: [UPLOADS_PREFIX, IMPORTS_PREFIX],
            delete: [UPLOADS_PREFIX],
          },
        },
      },
    },
    importContacts: {
      entry: 'functions/import-contacts.ts',
      description: 'Imports a contacts CSV from the uploads bucket: checked whole, then written in batches',
      memoryMb: 1024,
      timeoutSeconds: IMPORT_TIMEOUT_SECONDS,
      uses: {
        tables: {
          main: [
            reads('TENANT', 'GROUPS', 'GROUP', 'CONTACTS'),
            writes(['PutItem', 'UpdateItem'], 'TENANT', 'GROUPS', 'GROUP', 'CONTACTS'),
          ],
        },
        queues: { imports: 'send+consume' },
        buckets: { uploads: { read: [IMPORTS_PREFIX] } },
      },
    },
    campaigns: {
      entry: 'functions/campaigns.ts',
      description:
        'Campaigns (/v1/campaigns): each one an EventBridge Scheduler schedule; create, read, pause, resume, delete, test-send',
      memoryMb: 512,
      timeoutSeconds: 29,
      // Checks the template against Twilio's Content API at create, as a broadcast's create does; a
      // resume hands its run's unsent recipients to the fan-out again (resumeBroadcast), and a test
      // send is a broadcast of its own (acceptTestSend).
      uses: {
        tables: {
          main: [
            SENDER_LOOKUPS,
            ...ADMIN_AUTH,
            ...ACCEPT_BROADCAST,
            reads('CAMPAIGN', 'IDEMCMP'),
            writes(['PutItem', 'UpdateItem'], 'CAMPAIGN', 'IDEMCMP'),
            // A deleted campaign: its item and its runs' items.
            writes(['DeleteItem'], 'TENANT'),
            writes(['BatchWriteItem'], 'CAMPAIGN'),
            // A resume hands the run's unsent recipients back (resumeBroadcast).
            { ...reads('BROADCAST'), indexes: ['retriesByBroadcast'] },
          ],
        },
        queues: { send: 'send', fanOut: 'send' },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'read' },
        scheduleGroups: ['schedules'],
      },
    },
    apiKeys: {
      entry: 'functions/api-keys.ts',
      description: "The tenant's API keys (/v1/api-keys): create, list, revoke, rotate (admin keys only)",
      memoryMb: 256,
      timeoutSeconds: 10,
      // Creates, lists, revokes and rotates the tenant's keys: the lookup item (APIKEY#<hash>) and the
      // tenant's key records (APIKEYS#), a revoke checking in its transaction that another admin stays.
      uses: {
        tables: {
          main: [
            ...ADMIN_AUTH,
            reads('APIKEYS'),
            writes(['PutItem', 'UpdateItem'], 'APIKEY', 'APIKEYS'),
            writes(['ConditionCheckItem'], 'APIKEYS'),
          ],
        },
      },
    },
    audit: {
      entry: 'functions/audit.ts',
      description: "GET /v1/audit: the tenant's audit log, newest first (admin keys only)",
      memoryMb: 256,
      timeoutSeconds: 10,
      uses: { tables: { main: [...ADMIN_AUTH, reads('AUDIT')] } },
    },
    runSchedules: {
      entry: 'functions/run-schedules.ts',
      description:
        "EventBridge Scheduler's target: a campaign's run (one broadcast per firing) or a scheduled broadcast's start",
      memoryMb: 1024,
      timeoutSeconds: RUN_SCHEDULES_TIMEOUT_SECONDS,
      uses: {
        tables: {
          main: [...ACCEPT_BROADCAST, reads('CAMPAIGN'), writes(['PutItem', 'UpdateItem'], 'CAMPAIGN')],
        },
        queues: { fanOut: 'send' },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'read' },
      },
    },
    sweepStuck: {
      entry: 'functions/sweep-stuck.ts',
      description:
        'Every minute: settles broadcasts and puts recipients stuck by a lost message back on the path',
      memoryMb: 512,
      timeoutSeconds: 240,
      uses: {
        tables: {
          main: [
            SENDER_LOOKUPS,
            {
              ...reads('TENANT', 'BROADCAST', 'SID', 'CONTACT', 'SUPPRESS'),
              indexes: ['activeBroadcasts', 'retriesByBroadcast'],
            },
            writes(
              ['PutItem', 'UpdateItem'],
              'TENANT',
              'BROADCAST',
              'ACTIVITY',
              'SID',
              'CONTACT',
              'SUPPRESS',
            ),
          ],
        },
        queues: { send: 'send', fanOut: 'send' },
        secrets: ['twilioAuthToken'],
        secretPrefixes: { tenantTwilio: 'read' },
      },
    },
  },
  functionUrls: {
    statusCallback: { function: 'twilioStatusWebhook', envVar: 'STATUS_CALLBACK_URL' },
  },
  routes: [
    { method: 'GET', path: '/healthz', function: 'healthz', auth: 'public' },
    { method: 'GET', path: '/openapi.json', function: 'apiDocs', auth: 'public' },
    { method: 'POST', path: '/v1/broadcasts', function: 'createBroadcast', auth: 'admin' },
    { method: 'POST', path: '/v1/broadcasts/preview', function: 'previewBroadcast', auth: 'admin' },
    { method: 'POST', path: '/v1/broadcasts/test-send', function: 'createBroadcast', auth: 'admin' },
    { method: 'GET', path: '/v1/broadcasts', function: 'queryBroadcasts', auth: 'admin' },
    { method: 'GET', path: '/v1/broadcasts/{id}', function: 'queryBroadcasts', auth: 'admin' },
    { method: 'GET', path: '/v1/broadcasts/{id}/progress', function: 'queryBroadcasts', auth: 'admin' },
    { method: 'GET', path: '/v1/broadcasts/{id}/recipients', function: 'queryBroadcasts', auth: 'admin' },
    { method: 'POST', path: '/v1/broadcasts/{id}/cancel', function: 'manageBroadcasts', auth: 'admin' },
    { method: 'POST', path: '/v1/broadcasts/{id}/retry', function: 'manageBroadcasts', auth: 'admin' },
    { method: 'POST', path: '/v1/broadcasts/{id}/pause', function: 'manageBroadcasts', auth: 'admin' },
    { method: 'POST', path: '/v1/broadcasts/{id}/resume', function: 'manageBroadcasts', auth: 'admin' },
    { method: 'GET', path: '/v1/metrics', function: 'metrics', auth: 'admin' },
    { method: 'GET', path: '/v1/settings', function: 'settings', auth: 'admin' },
    { method: 'PUT', path: '/v1/settings', function: 'settings', auth: 'admin' },
    { method: 'GET', path: '/v1/settings/twilio', function: 'settings', auth: 'admin' },
    { method: 'PUT', path: '/v1/settings/twilio', function: 'settings', auth: 'admin' },
    { method: 'DELETE', path: '/v1/settings/twilio', function: 'settings', auth: 'admin' },
    { method: 'GET', path: '/v1/suppressions', function: 'suppressions', auth: 'admin' },
    { method: 'POST', path: '/v1/suppressions', function: 'suppressions', auth: 'admin' },
    { method: 'DELETE', path: '/v1/suppressions/{phone}', function: 'suppressions', auth: 'admin' },
    { method: 'GET', path: '/v1/contacts/{phone}/messages', function: 'suppressions', auth: 'admin' },
    { method: 'GET', path: '/v1/contacts', function: 'addressBook', auth: 'admin' },
    { method: 'PUT', path: '/v1/contacts/{phone}', function: 'addressBook', auth: 'admin' },
    { method: 'GET', path: '/v1/contacts/{phone}', function: 'addressBook', auth: 'admin' },
    { method: 'DELETE', path: '/v1/contacts/{phone}', function: 'addressBook', auth: 'admin' },
    { method: 'POST', path: '/v1/groups', function: 'groups', auth: 'admin' },
    { method: 'GET', path: '/v1/groups', function: 'groups', auth: 'admin' },
    { method: 'GET', path: '/v1/groups/{id}', function: 'groups', auth: 'admin' },
    { method: 'DELETE', path: '/v1/groups/{id}', function: 'groups', auth: 'admin' },
    { method: 'POST', path: '/v1/groups/{id}/members', function: 'groups', auth: 'admin' },
    { method: 'GET', path: '/v1/groups/{id}/members', function: 'groups', auth: 'admin' },
    { method: 'DELETE', path: '/v1/groups/{id}/members/{phone}', function: 'groups', auth: 'admin' },
    { method: 'GET', path: '/v1/templates', function: 'templates', auth: 'admin' },
    { method: 'GET', path: '/v1/templates/{contentSid}', function: 'templates', auth: 'admin' },
    { method: 'POST', path: '/v1/uploads', function: 'contactImports', auth: 'admin' },
    { method: 'POST', path: '/v1/contacts/imports', function: 'contactImports', auth: 'admin' },
    { method: 'GET', path: '/v1/contacts/imports', function: 'contactImports', auth: 'admin' },
    { method: 'GET', path: '/v1/contacts/imports/{importId}', function: 'contactImports', auth: 'admin' },
    { method: 'POST', path: '/v1/campaigns', function: 'campaigns', auth: 'admin' },
    { method: 'GET', path: '/v1/campaigns', function: 'campaigns', auth: 'admin' },
    { method: 'GET', path: '/v1/campaigns/{id}', function: 'campaigns', auth: 'admin' },
    { method: 'DELETE', path: '/v1/campaigns/{id}', function: 'campaigns', auth: 'admin' },
    { method: 'POST', path: '/v1/campaigns/{id}/pause', function: 'campaigns', auth: 'admin' },
    { method: 'POST', path: '/v1/campaigns/{id}/resume', function: 'campaigns', auth: 'admin' },
    { method: 'POST', path: '/v1/campaigns/{id}/test-send', function: 'campaigns', auth: 'admin' },
    { method: 'POST', path: '/v1/api-keys', function: 'apiKeys', auth: 'admin' },
    { method: 'GET', path: '/v1/api-keys', function: 'apiKeys', auth: 'admin' },
    { method: 'DELETE', path: '/v1/api-keys/{keyId}', function: 'apiKeys', auth: 'admin' },
    { method: 'POST', path: '/v1/api-keys/{keyId}/rotate', function: 'apiKeys', auth: 'admin' },
    { method: 'GET', path: '/v1/audit', function: 'audit', auth: 'admin' },
    { method: 'POST', path: '/v1/erasures', function: 'erasures', auth: 'admin' },
    { method: 'GET', path: '/v1/erasures/{id}', function: 'erasures', auth: 'admin' },
    { method: 'POST', path: '/webhooks/twilio/status', function: 'twilioStatusWebhook', auth: 'public' },
    { method: 'POST', path: '/webhooks/twilio/inbound', function: 'twilioInboundWebhook', auth: 'public' },
  ],
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
      // to 2 s for a batch halves those writes at 80 messages/s; the counts lag the ledger by that much.
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

/**
 * The environment variables a function receives for the resources it uses, resolved
 * by the builder that knows where those resources are (CDK tokens, or local URLs).
 */
export interface ResourceLocator {
  tableName(id: string): string;
  queueUrl(id: string): string;
  deadLetterQueueUrl(id: string): string;
  secretArn(id: string): string;
  /** A secret name prefix (`<stack name>/tenantTwilio/` on AWS, `local/tenantTwilio/` in the twin). */
  secretPrefix?(id: string): string;
  functionUrl(id: string): string;
  bucketName(id: string): string;
  /** A schedule group's name, its target function's ARN, its invoke role's ARN, its DLQ's ARN. */
  scheduleGroup(id: string): { name: string; targetArn: string; roleArn: string; deadLetterArn: string };
  eventBusName(id: string): string;
}

export function resourceEnvironment(
  topo: Topology,
  fn: FunctionSpec,
  locate: ResourceLocator,
  options: { includeSecrets: boolean },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const id of Object.keys(fn.uses.tables ?? {}))
    env[mustGet(topo.tables, id, 'table').envVar] = locate.tableName(id);
  for (const id of Object.keys(fn.uses.queues ?? {}))
    env[mustGet(topo.queues, id, 'queue').envVar] = locate.queueUrl(id);
  for (const id of Object.keys(fn.uses.deadLetterQueues ?? {}))
    env[mustGet(topo.queues, id, 'queue').deadLetter.envVar] = locate.deadLetterQueueUrl(id);
  if (options.includeSecrets)
    for (const id of fn.uses.secrets ?? [])
      env[mustGet(topo.secrets, id, 'secret').envVar] = locate.secretArn(id);
  for (const id of Object.keys(fn.uses.secretPrefixes ?? {})) {
    if (!locate.secretPrefix) throw new Error(`No secret prefix ${id} where this function runs`);
    env[mustGet(topo.secretPrefixes ?? {}, id, 'secret prefix').envVar] = locate.secretPrefix(id);
  }
  for (const id of fn.uses.functionUrls ?? [])
    env[mustGet(topo.functionUrls, id, 'function URL').envVar] = locate.functionUrl(id);
  for (const id of Object.keys(fn.uses.buckets ?? {}))
    env[mustGet(topo.buckets, id, 'bucket').envVar] = locate.bucketName(id);
  for (const id of fn.uses.scheduleGroups ?? []) {
    const spec = mustGet(topo.scheduleGroups, id, 'schedule group');
    const where = locate.scheduleGroup(id);
    env[spec.envVar] = where.name;
    env[spec.targetArnEnvVar] = where.targetArn;
    env[spec.roleArnEnvVar] = where.roleArn;
    env[spec.deadLetter.envVar] = where.deadLetterArn;
  }
  for (const id of fn.uses.eventBuses ?? [])
    env[mustGet(topo.eventBuses ?? {}, id, 'event bus').envVar] = locate.eventBusName(id);
  return env;
}

/** Checks the references inside a topology; both builders call it so a typo fails early. */
export function validateTopology(topo: Topology): void {
  const problems: string[] = [];
  const fnIds = new Set(Object.keys(topo.functions));
  for (const [id, fn] of Object.entries(topo.functions)) {
    for (const [t, access] of Object.entries(fn.uses.tables ?? {})) {
      const table = topo.tables[t];
      if (!table) problems.push(`${id} uses unknown table ${t}`);
      else problems.push(...tableGrantProblems(id, t, access, table));
    }
    for (const q of Object.keys(fn.uses.queues ?? {}))
      if (!topo.queues[q]) problems.push(`${id} uses unknown queue ${q}`);
    for (const s of fn.uses.secrets ?? [])
      if (!topo.secrets[s]) problems.push(`${id} uses unknown secret ${s}`);
    for (const p of Object.keys(fn.uses.secretPrefixes ?? {}))
      if (!topo.secretPrefixes?.[p]) problems.push(`${id} uses unknown secret prefix ${p}`);
    for (const u of fn.uses.functionUrls ?? [])
      if (!topo.functionUrls[u]) problems.push(`${id} uses unknown function URL ${u}`);
    for (const b of Object.keys(fn.uses.buckets ?? {}))
      if (!topo.buckets[b]) problems.push(`${id} uses unknown bucket ${b}`);
  }
  for (const [id, bucket] of Object.entries(topo.buckets))
    for (const n of bucket.notifications)
      if (!topo.queues[n.queue]) problems.push(`bucket ${id} notifies unknown queue ${n.queue}`);
  for (const [id, url] of Object.entries(topo.functionUrls))
    if (!fnIds.has(url.function)) problems.push(`function URL ${id} names unknown function ${url.function}`);
  for (const c of topo.streamConsumers) {
    if (!fnIds.has(c.function)) problems.push(`stream consumer names unknown function ${c.function}`);
    if (!topo.tables[c.table]?.stream)
      problems.push(`stream consumer ${c.function} reads table ${c.table}, which has no stream`);
    if (!topo.queues[c.onFailureQueue])
      problems.push(`stream consumer ${c.function}: unknown on-failure queue ${c.onFailureQueue}`);
  }
  const routeKeys = new Set<string>();
  for (const r of topo.routes) {
    if (!fnIds.has(r.function))
      problems.push(`route ${r.method} ${r.path} names unknown function ${r.function}`);
    const key = `${r.method} ${r.path}`;
    if (routeKeys.has(key)) problems.push(`route ${key} declared twice`);
    routeKeys.add(key);
  }
  if (topo.defaultRoute && !fnIds.has(topo.defaultRoute.function))
    problems.push(`the default route names unknown function ${topo.defaultRoute.function}`);
  for (const c of topo.consumers) {
    if (!fnIds.has(c.function)) problems.push(`consumer of ${c.queue} names unknown function ${c.function}`);
    if (!topo.queues[c.queue]) problems.push(`consumer ${c.function} reads unknown queue ${c.queue}`);
    if (c.batchSize > 10 && c.maxBatchingWindowSeconds < 1)
      problems.push(`consumer ${c.function}: batchSize > 10 needs a batching window >= 1 s`);
    if (c.maxConcurrency < 2 || c.maxConcurrency > 1000)
      problems.push(`consumer ${c.function}: maxConcurrency must be 2..1000`);
    const fn = topo.functions[c.function];
    const q = topo.queues[c.queue];
    if (fn && q && q.visibilityTimeoutSeconds < fn.timeoutSeconds)
      problems.push(`queue ${c.queue}: visibility timeout shorter than ${c.function}'s timeout`);
  }
  for (const s of topo.schedules)
    if (!fnIds.has(s.function)) problems.push(`schedule ${s.id} names unknown function ${s.function}`);
  for (const [id, group] of Object.entries(topo.scheduleGroups))
    if (!fnIds.has(group.target))
      problems.push(`schedule group ${id} targets unknown function ${group.target}`);
  for (const [id, fn] of Object.entries(topo.functions))
    for (const g of fn.uses.scheduleGroups ?? [])
      if (!topo.scheduleGroups[g]) problems.push(`${id} uses unknown schedule group ${g}`);
  for (const [id, fn] of Object.entries(topo.functions))
    for (const b of fn.uses.eventBuses ?? [])
      if (!topo.eventBuses?.[b]) problems.push(`${id} uses unknown event bus ${b}`);
  if (problems.length > 0) throw new Error(`Invalid topology:\n- ${problems.join('\n- ')}`);
}

function mustGet<T>(record: Readonly<Record<string, T>>, id: string, kind: string): T {
  const value = record[id];
  if (!value) throw new Error(`Unknown ${kind} '${id}' in topology`);
  return value;
}
