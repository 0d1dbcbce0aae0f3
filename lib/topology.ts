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

export type TableAccess = 'read' | 'readwrite';
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
    /** Function URLs it needs to know (to hand them to Twilio, say). */
    readonly functionUrls?: readonly string[];
    readonly buckets?: Readonly<Record<string, BucketAccess>>;
    /** Schedule groups whose schedules it creates, changes and deletes. */
    readonly scheduleGroups?: readonly string[];
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
  readonly sortKeyPrefix: string;
  /** A failing batch is retried (bisected) this many times, then sent to the queue named here. */
  readonly retryAttempts: number;
  /** Records older than this go to the on-failure queue unprocessed (the sweeper's recount relies on it). */
  readonly maxRecordAgeSeconds: number;
  readonly onFailureQueue: string;
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
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly functionUrls: Readonly<Record<string, FunctionUrlSpec>>;
  readonly routes: readonly RouteSpec[];
  readonly defaultRoute?: DefaultRouteSpec;
  readonly consumers: readonly ConsumerSpec[];
  readonly streamConsumers: readonly StreamConsumerSpec[];
  readonly schedules: readonly ScheduleSpec[];
  readonly scheduleGroups: Readonly<Record<string, ScheduleGroupSpec>>;
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
/** Admin handlers read tenant API keys and broadcasts; the create route also enqueues the fan-out. */
const ADMIN_READS = { tables: { main: 'readwrite' } } as const;

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
  functions: {
    healthz: {
      entry: 'functions/healthz.ts',
      description: 'Health: the main table and the send queue answer a read',
      memoryMb: 256,
      timeoutSeconds: 5,
      // Exactly the reads its checks make: GetItem on the table, GetQueueAttributes on the queue.
      uses: { tables: { main: 'read' }, queues: { send: 'depth' } },
    },
    createBroadcast: {
      entry: 'functions/create-broadcast.ts',
      description:
        "POST /v1/broadcasts (and /test-send): validates (the template against Twilio's Content API), stores the list in chunks, and hands it to the fan-out",
      memoryMb: 1024,
      // API Gateway gives up at 29 s; the handler only validates and stores a few chunk items.
      timeoutSeconds: 29,
      uses: {
        ...ADMIN_READS,
        queues: { fanOut: 'send' },
        secrets: ['twilioAuthToken'],
        // A broadcast with scheduledAt gets a one-time at() schedule that starts it.
        scheduleGroups: ['schedules'],
      },
    },
    queryBroadcasts: {
      entry: 'functions/query-broadcasts.ts',
      description: 'GET routes of /v1/broadcasts: one broadcast, the list, progress and recipients',
      memoryMb: 512,
      timeoutSeconds: 15,
      uses: ADMIN_READS,
    },
    manageBroadcasts: {
      entry: 'functions/manage-broadcasts.ts',
      description: 'POST /v1/broadcasts/{id}/cancel, /pause, /resume and /retry',
      memoryMb: 512,
      timeoutSeconds: 29,
      // Cancelling a scheduled broadcast deletes its at() schedule; a resume hands release tasks to the fan-out.
      uses: { ...ADMIN_READS, queues: { send: 'send', fanOut: 'send' }, scheduleGroups: ['schedules'] },
    },
    metrics: {
      entry: 'functions/metrics.ts',
      description:
        "GET /v1/metrics: the tenant's pending, recent sends and failures, active broadcasts, dead letters",
      memoryMb: 256,
      timeoutSeconds: 10,
      uses: { ...ADMIN_READS, deadLetterQueues: { send: 'depth', fanOut: 'depth' } },
    },
    previewBroadcast: {
      entry: 'functions/preview-broadcast.ts',
      description: 'POST /v1/broadcasts/preview: the dry run of a broadcast (reads only)',
      memoryMb: 1024,
      timeoutSeconds: 29,
      // Reads the tenant's key, contacts, groups, suppressions, settings, send history and messaging-limit
      // book; asks Twilio for the template.
      uses: { tables: { main: 'read' }, secrets: ['twilioAuthToken'] },
    },
    settings: {
      entry: 'functions/settings.ts',
      description: "GET and PUT /v1/settings: the tenant's settings",
      memoryMb: 256,
      timeoutSeconds: 10,
      uses: ADMIN_READS,
    },
    suppressions: {
      entry: 'functions/suppressions.ts',
      description: "Suppression lists (GET, POST, DELETE /v1/suppressions) and a contact's message history",
      memoryMb: 512,
      timeoutSeconds: 15,
      uses: ADMIN_READS,
    },
    addressBook: {
      entry: 'functions/address-book.ts',
      description: 'Contacts: PUT, GET, DELETE /v1/contacts/{phone} (an erasure) and the filtered list',
      memoryMb: 512,
      // An erasure removes the contact's memberships and its history's text in one request.
      timeoutSeconds: 29,
      uses: ADMIN_READS,
    },
    groups: {
      entry: 'functions/groups.ts',
      description: 'Groups and their members (/v1/groups…), member lists as CSV exports',
      // A CSV part is gathered in memory: up to 10,000 contacts, 5 MB of body.
      memoryMb: 1024,
      timeoutSeconds: 29,
      uses: { ...ADMIN_READS, queues: { groupCleanup: 'send' } },
    },
    groupCleanup: {
      entry: 'functions/group-cleanup.ts',
      description: "Removes a deleted group's memberships page by page, then the group",
      memoryMb: 512,
      timeoutSeconds: GROUP_CLEANUP_TIMEOUT_SECONDS,
      uses: { tables: { main: 'readwrite' }, queues: { groupCleanup: 'send+consume' } },
    },
    erasures: {
      entry: 'functions/erasures.ts',
      description:
        "POST /v1/erasures and GET /v1/erasures/{id}: a person's erasure, queued, and its progress",
      memoryMb: 256,
      timeoutSeconds: 10,
      uses: { tables: { main: 'readwrite' }, queues: { erasures: 'send' } },
    },
    eraseWorker: {
      entry: 'functions/erase-worker.ts',
      description:
        "Erases a person from the tenant's items: contact, memberships, history, recipients in every broadcast",
      memoryMb: 512,
      timeoutSeconds: ERASE_TIMEOUT_SECONDS,
      uses: { tables: { main: 'readwrite' }, queues: { erasures: 'send+consume' } },
    },
    templates: {
      entry: 'functions/templates.ts',
      description: "GET /v1/templates: the Twilio account's Content templates and their WhatsApp approval",
      memoryMb: 512,
      // A list may take a few Content API pages of 1,000 (5 s each at most).
      timeoutSeconds: 29,
      // Reads the API key (GetItem) and calls Twilio with the auth token; writes nothing.
      uses: { tables: { main: 'read' }, secrets: ['twilioAuthToken'] },
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
      uses: { tables: { main: 'readwrite' }, queues: { fanOut: 'send+consume', send: 'send' } },
    },
    twilioStatusWebhook: {
      entry: 'functions/twilio-status-webhook.ts',
      description: "Twilio's status callbacks: signature checked, one conditional update of the recipient",
      // Small and fast: three calls per message sent, each one signature check and one write; its
      // bundle has no Twilio SDK (only its webhook module).
      memoryMb: 128,
      timeoutSeconds: 10,
      uses: {
        tables: { main: 'readwrite' },
        queues: { callbackRetries: 'send' },
        secrets: ['twilioAuthToken'],
      },
    },
    retryStatusCallbacks: {
      entry: 'functions/retry-status-callbacks.ts',
      description: 'Applies status callbacks again whose ledger write failed when they arrived',
      memoryMb: 256,
      timeoutSeconds: CALLBACK_RETRY_TIMEOUT_SECONDS,
      uses: { tables: { main: 'readwrite' }, queues: { callbackRetries: 'consume' } },
    },
    aggregateCounts: {
      entry: 'functions/aggregate-counts.ts',
      description: "Counts recipients' changes from the table's stream, exactly once, and settles broadcasts",
      memoryMb: 256,
      timeoutSeconds: 60,
      uses: { tables: { main: 'readwrite' } },
    },
    twilioInboundWebhook: {
      entry: 'functions/twilio-inbound-webhook.ts',
      description:
        'Incoming WhatsApp messages: signature checked; confirmation taps, opt-out and opt-in words, history',
      memoryMb: 512,
      timeoutSeconds: 10,
      uses: { tables: { main: 'readwrite' }, queues: { send: 'send' }, secrets: ['twilioAuthToken'] },
    },
    sendMessages: {
      entry: 'functions/send-messages.ts',
      description: 'Consumes the send queue and sends each recipient its WhatsApp template, once',
      memoryMb: 256,
      timeoutSeconds: SEND_TIMEOUT_SECONDS,
      uses: {
        tables: { main: 'readwrite' },
        queues: { send: 'send+consume' },
        secrets: ['twilioAuthToken'],
        functionUrls: ['statusCallback'],
      },
    },
    retryFailed: {
      entry: 'functions/retry-failed.ts',
      description: 'Every minute: re-queues transient failures whose backoff window has passed',
      memoryMb: 512,
      timeoutSeconds: 120,
      uses: { tables: { main: 'readwrite' }, queues: { send: 'send' } },
    },
    contactImports: {
      entry: 'functions/contact-imports.ts',
      description:
        'POST /v1/uploads and /v1/contacts/imports, GET /v1/contacts/imports[/{importId}]: presigned uploads, starting imports, their progress',
      // A CSV body of up to ~6 MB is checked and stored within the request.
      memoryMb: 1024,
      timeoutSeconds: 29,
      uses: {
        tables: { main: 'readwrite' },
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
        tables: { main: 'readwrite' },
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
        tables: { main: 'readwrite' },
        queues: { send: 'send', fanOut: 'send' },
        secrets: ['twilioAuthToken'],
        scheduleGroups: ['schedules'],
      },
    },
    runSchedules: {
      entry: 'functions/run-schedules.ts',
      description:
        "EventBridge Scheduler's target: a campaign's run (one broadcast per firing) or a scheduled broadcast's start",
      memoryMb: 1024,
      timeoutSeconds: RUN_SCHEDULES_TIMEOUT_SECONDS,
      uses: { tables: { main: 'readwrite' }, queues: { fanOut: 'send' }, secrets: ['twilioAuthToken'] },
    },
    sweepStuck: {
      entry: 'functions/sweep-stuck.ts',
      description:
        'Every minute: settles broadcasts and puts recipients stuck by a lost message back on the path',
      memoryMb: 512,
      timeoutSeconds: 240,
      uses: {
        tables: { main: 'readwrite' },
        queues: { send: 'send', fanOut: 'send' },
        secrets: ['twilioAuthToken'],
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
} as const satisfies Topology;

export type FunctionId = keyof typeof topology.functions;
export type QueueId = keyof typeof topology.queues;
export type TableId = keyof typeof topology.tables;
export type BucketId = keyof typeof topology.buckets;
export type ScheduleGroupId = keyof typeof topology.scheduleGroups;

/**
 * The environment variables a function receives for the resources it uses, resolved
 * by the builder that knows where those resources are (CDK tokens, or local URLs).
 */
export interface ResourceLocator {
  tableName(id: string): string;
  queueUrl(id: string): string;
  deadLetterQueueUrl(id: string): string;
  secretArn(id: string): string;
  functionUrl(id: string): string;
  bucketName(id: string): string;
  /** A schedule group's name, its target function's ARN, its invoke role's ARN, its DLQ's ARN. */
  scheduleGroup(id: string): { name: string; targetArn: string; roleArn: string; deadLetterArn: string };
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
  return env;
}

/** Checks the references inside a topology; both builders call it so a typo fails early. */
export function validateTopology(topo: Topology): void {
  const problems: string[] = [];
  const fnIds = new Set(Object.keys(topo.functions));
  for (const [id, fn] of Object.entries(topo.functions)) {
    for (const t of Object.keys(fn.uses.tables ?? {}))
      if (!topo.tables[t]) problems.push(`${id} uses unknown table ${t}`);
    for (const q of Object.keys(fn.uses.queues ?? {}))
      if (!topo.queues[q]) problems.push(`${id} uses unknown queue ${q}`);
    for (const s of fn.uses.secrets ?? [])
      if (!topo.secrets[s]) problems.push(`${id} uses unknown secret ${s}`);
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
  if (problems.length > 0) throw new Error(`Invalid topology:\n- ${problems.join('\n- ')}`);
}

function mustGet<T>(record: Readonly<Record<string, T>>, id: string, kind: string): T {
  const value = record[id];
  if (!value) throw new Error(`Unknown ${kind} '${id}' in topology`);
  return value;
}
