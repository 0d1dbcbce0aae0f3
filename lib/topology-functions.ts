import { IMPORTS_PREFIX, UPLOADS_PREFIX } from '../functions/core/imports.ts';
import {
  ACCEPT_BROADCAST,
  ADMIN_AUTH,
  APPLY_STATUS,
  reads,
  SENDER_LOOKUPS,
  writes,
} from './table-grant-sets.ts';
import type { FunctionSpec } from './topology.ts';

/**
 * The topology's functions (lib/topology.ts, the one declaration): each one's handler, memory and
 * timeout, and in `uses` exactly what it may touch, which both grants it on AWS (lib/stack.ts,
 * lib/table-grants.ts) and is enforced on the twin (lib/local/grant-guard.ts).
 */

/**
 * The send and fan-out functions' timeouts: short, because they bound recovery (core/recovery.ts): a
 * task whose invocation died comes back after its queue's visibility timeout, twice this.
 */
export const SEND_TIMEOUT_SECONDS = 30;
export const FAN_OUT_TIMEOUT_SECONDS = 30;
export const CALLBACK_RETRY_TIMEOUT_SECONDS = 30;
/**
 * The import worker runs up to Lambda's ceiling, 15 minutes, and hands over to a new invocation
 * before it (use-cases/import-contacts.ts). A crashed invocation's message comes back after the
 * queue's visibility timeout, twice this.
 */
export const IMPORT_TIMEOUT_SECONDS = 900;
/** An erasure's worker runs up to 5 minutes per invocation (broadcast by broadcast), then hands over. */
export const ERASE_TIMEOUT_SECONDS = 300;
/** A deleted group's cleanup runs up to 5 minutes per invocation (~100,000 memberships), then hands over. */
export const GROUP_CLEANUP_TIMEOUT_SECONDS = 300;
/**
 * A campaign run or a scheduled broadcast's start creates or starts one broadcast through
 * acceptBroadcast: for a 100,000-member audience that is ~20 s of reads and chunk writes.
 */
export const RUN_SCHEDULES_TIMEOUT_SECONDS = 120;
/**
 * What a function that calls Twilio reads: the deployment's auth token, and the tenants' own accounts'
 * credentials (a tenant's traffic goes through its own account when it has one).
 */
const CALLS_TWILIO = {
  secrets: ['twilioAuthToken'],
  secretPrefixes: { tenantTwilio: 'read' },
} as const satisfies Pick<FunctionSpec['uses'], 'secrets' | 'secretPrefixes'>;

export const functions = {
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
      ...CALLS_TWILIO,
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
        main: [...ADMIN_AUTH, { ...reads('TENANT', 'BROADCAST', 'ACTIVITY'), indexes: ['activeBroadcasts'] }],
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
      ...CALLS_TWILIO,
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
    description: "POST /v1/erasures and GET /v1/erasures/{id}: a person's erasure, queued, and its progress",
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
      "Erases a person from the tenant's items (contact, memberships, history, recipients in every broadcast) and their messages at Twilio",
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
      // Deletes the person's message records at Twilio, on the tenant's own account or the deployment's.
      ...CALLS_TWILIO,
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
      ...CALLS_TWILIO,
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
      ...CALLS_TWILIO,
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
      ...CALLS_TWILIO,
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
          // A create Twilio refuses for an opt-out (21610, 63014) suppresses the number.
          writes(['PutItem'], 'SUPPRESS'),
        ],
      },
      queues: { send: 'send+consume' },
      ...CALLS_TWILIO,
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
      ...CALLS_TWILIO,
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
      ...CALLS_TWILIO,
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
          writes(['PutItem', 'UpdateItem'], 'TENANT', 'BROADCAST', 'ACTIVITY', 'SID', 'CONTACT', 'SUPPRESS'),
        ],
      },
      queues: { send: 'send', fanOut: 'send' },
      ...CALLS_TWILIO,
    },
  },
} as const satisfies Readonly<Record<string, FunctionSpec>>;
