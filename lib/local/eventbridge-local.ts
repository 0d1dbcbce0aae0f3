import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import type { Topology } from '../topology.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './aws-local.ts';
import type { LocalConfig } from './config.ts';
import { PRIVATE_FILE_MODE, replacePrivateFile } from './data-dir.ts';
import type { FaultInjector } from './faults/injector.ts';
import { appliesTo } from './faults/spec.ts';

/**
 * An EventBridge bus on one machine: the PutEvents action (AWS JSON 1.1, `X-Amz-Target:
 * AWSEvents.PutEvents`), so the functions' own adapter (functions/adapters/eventbridge-events.ts)
 * talks to it through AWS_ENDPOINT_URL_EVENTBRIDGE, and a target a user can watch:
 * - every event taken is appended, as EventBridge would deliver it to a target (`version`, `id`,
 *   `detail-type`, `source`, `account`, `time`, `region`, `resources`, `detail`), as one JSON line
 *   to DATA_DIR/events.jsonl (`tail -f` it);
 * - with `targetUrl` (LOCAL_EVENTS_URL), each line is also POSTed there (application/json), in
 *   order, at least once: a POST that fails or answers other than 2xx is retried (1, 2, 4 … 30 s)
 *   until it succeeds. How far delivery got is kept in DATA_DIR/events-delivered.json, so a restart
 *   resumes where it stopped (a POST in flight at a stop is made again);
 * - TWIN_FAULTS `events.*` rules answer a PutEvents as AWS does when it fails: the whole call
 *   (ServiceUnavailable 503, ThrottlingException 400, InternalException 500: the SDK retries them),
 *   or single entries (PartialFailure: HTTP 200, FailedEntryCount, the entry's ErrorCode
 *   InternalFailure, the other entries taken).
 * Validation as PutEvents': 1 to 10 entries (ValidationException otherwise); an entry without Source,
 * DetailType or Detail is refused with InvalidArgument, a Detail that is not a JSON object with
 * MalformedDetail, an entry for another bus with InvalidArgument (non-retryable codes).
 */
export interface LocalEventBusOptions {
  readonly dataDir: string;
  readonly busName: string;
  /** LOCAL_EVENTS_URL: where each event is POSTed too. */
  readonly targetUrl?: string;
  readonly injector?: FaultInjector;
  readonly log?: (entry: Record<string, unknown>) => void;
  /** The longest pause between delivery attempts (ms). @default 30,000 */
  readonly maxRetryDelayMs?: number;
}

export interface LocalEventBus {
  /** `http://127.0.0.1:<port>`: AWS_ENDPOINT_URL_EVENTBRIDGE for the handlers. */
  readonly endpoint: string;
  readonly busName: string;
  readonly busArn: string;
  /** DATA_DIR/events.jsonl. */
  readonly file: string;
  readonly targetUrl?: string;
  /** The events taken so far (this run and earlier ones), from the file. */
  events(): LocalEvent[];
  stop(): Promise<void>;
}

/** An event as EventBridge hands it to a target. */
export interface LocalEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
}

const JSON_1_1 = 'application/x-amz-json-1.1';
/** PutEvents' limit on entries per request (EventBridge quotas). */
const MAX_ENTRIES = 10;

export async function startLocalEventBus(options: LocalEventBusOptions): Promise<LocalEventBus> {
  const file = path.join(options.dataDir, 'events.jsonl');
  const cursorFile = path.join(options.dataDir, 'events-delivered.json');
  const busArn = `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:event-bus/${options.busName}`;
  const log = options.log ?? (() => {});
  const rules = options.injector?.rules('events') ?? [];
  const maxDelay = options.maxRetryDelayMs ?? 30_000;
  let stopping = false;
  /** Ends the delivery loop's current pause: `idle` waits for new events, `backoff` for a retry. */
  const wake: { idle?: () => void; backoff?: () => void } = {};

  const readLines = (): string[] =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((line) => line !== '')
      : [];

  function putEvents(body: unknown): { status: number; body: Record<string, unknown>; type?: string } {
    const hit = options.injector?.firstHit(
      rules.filter((r) => r.fault !== 'PartialFailure' && appliesTo(r, 'PutEvents')),
    );
    if (hit) {
      options.injector?.record(hit, { service: 'events', operation: 'PutEvents' });
      const [status, message] = WHOLE_CALL_FAULTS[hit.fault] ?? [500, 'Internal error'];
      return { status, type: hit.fault, body: { message } };
    }
    const entries = (body as { Entries?: unknown })?.Entries;
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_ENTRIES)
      return {
        status: 400,
        type: 'ValidationException',
        body: {
          message: `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and ${MAX_ENTRIES}`,
        },
      };
    const partial = rules.filter((r) => r.fault === 'PartialFailure');
    const lines: string[] = [];
    const results = entries.map((entry: Record<string, unknown>) => {
      const refused = entryProblem(entry, options.busName, busArn);
      if (refused) return refused;
      const fault = options.injector?.firstHit(partial);
      if (fault) {
        options.injector?.record(fault, { service: 'events', operation: 'PutEvents', entry: true });
        return { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal Failure' };
      }
      const id = randomUUID();
      const event: LocalEvent = {
        version: '0',
        id,
        'detail-type': String(entry.DetailType),
        source: String(entry.Source),
        account: LOCAL_ACCOUNT,
        time: timeOf(entry.Time),
        region: LOCAL_REGION,
        resources: Array.isArray(entry.Resources) ? (entry.Resources as string[]) : [],
        detail: JSON.parse(String(entry.Detail)) as Record<string, unknown>,
      };
      lines.push(JSON.stringify(event));
      return { EventId: id };
    });
    if (lines.length > 0) {
      appendFileSync(file, `${lines.join('\n')}\n`, { mode: PRIVATE_FILE_MODE });
      wake.idle?.();
    }
    const failed = results.filter((r) => 'ErrorCode' in r).length;
    return { status: 200, body: { FailedEntryCount: failed, Entries: results } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    let answer: { status: number; body: Record<string, unknown>; type?: string };
    if (req.method !== 'POST' || target !== 'AWSEvents.PutEvents')
      answer = {
        status: 400,
        type: 'UnknownOperationException',
        body: { message: `The local event bus serves AWSEvents.PutEvents only, not '${target}'` },
      };
    else {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      answer = putEvents(body);
    }
    res.writeHead(answer.status, {
      'content-type': JSON_1_1,
      'x-amzn-requestid': randomUUID(),
      ...(answer.type ? { 'x-amzn-errortype': answer.type } : {}),
    });
    res.end(JSON.stringify(answer.type ? { __type: answer.type, ...answer.body } : answer.body));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log({ level: 'ERROR', source: 'event-bus', message: 'PutEvents failed', error: String(error) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': JSON_1_1 });
      res.end(JSON.stringify({ __type: 'InternalException', message: 'Internal error' }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  // Delivery to LOCAL_EVENTS_URL: in order, each line until a 2xx, resuming after a restart.
  const delivering = options.targetUrl ? deliverLoop(options.targetUrl) : Promise.resolve();
  async function deliverLoop(url: string): Promise<void> {
    let delivered = existsSync(cursorFile)
      ? Number((JSON.parse(readFileSync(cursorFile, 'utf8')) as { delivered?: number }).delivered ?? 0)
      : 0;
    let failures = 0;
    while (!stopping) {
      const lines = readLines();
      if (delivered >= lines.length) {
        await pause(1000, 'idle');
        continue;
      }
      while (!stopping && delivered < lines.length) {
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: lines[delivered],
            signal: AbortSignal.timeout(10_000),
          });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          delivered += 1;
          failures = 0;
          replacePrivateFile(cursorFile, `${JSON.stringify({ delivered })}\n`);
        } catch (error) {
          failures += 1;
          const delay = Math.min(maxDelay, 1000 * 2 ** Math.min(15, failures - 1));
          log({
            level: 'WARN',
            source: 'event-bus',
            message: `delivering an event to LOCAL_EVENTS_URL failed; retried in ${delay} ms`,
            attempt: failures,
            error: error instanceof Error ? error.message : String(error),
          });
          await pause(delay, 'backoff');
        }
      }
    }
  }

  function pause(ms: number, kind: 'idle' | 'backoff'): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake[kind] = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    busName: options.busName,
    busArn,
    file,
    ...(options.targetUrl ? { targetUrl: options.targetUrl } : {}),
    events: () => readLines().map((line) => JSON.parse(line) as LocalEvent),
    async stop() {
      stopping = true;
      wake.idle?.();
      wake.backoff?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await delivering;
    },
  };
}

/** Whole-call faults as EventBridge answers them (API reference, Common Errors; PutEvents Errors). */
const WHOLE_CALL_FAULTS: Readonly<Record<string, readonly [number, string]>> = {
  ServiceUnavailable: [503, 'The request has failed due to a temporary failure of the server.'],
  ThrottlingException: [400, 'The request was denied due to request throttling.'],
  InternalException: [500, 'This exception occurs due to unexpected causes.'],
};

/** Why PutEvents refuses an entry (non-retryable codes), or undefined. */
function entryProblem(
  entry: Record<string, unknown>,
  busName: string,
  busArn: string,
): { ErrorCode: string; ErrorMessage: string } | undefined {
  if (!entry || typeof entry !== 'object' || !entry.Source || !entry.DetailType || entry.Detail === undefined)
    return {
      ErrorCode: 'InvalidArgument',
      ErrorMessage: 'Parameters Source, DetailType and Detail are required.',
    };
  const bus = entry.EventBusName;
  if (bus !== undefined && bus !== busName && bus !== busArn)
    return { ErrorCode: 'InvalidArgument', ErrorMessage: `Event bus ${String(bus)} does not exist.` };
  try {
    const detail = JSON.parse(String(entry.Detail)) as unknown;
    if (!detail || typeof detail !== 'object' || Array.isArray(detail)) throw new Error('not an object');
  } catch {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  return undefined;
}

/** The entry's Time (the SDK sends epoch seconds) as ISO without milliseconds, as EventBridge shows it. */
function timeOf(time: unknown): string {
  const at = typeof time === 'number' ? new Date(time * 1000) : new Date();
  return `${at.toISOString().slice(0, 19)}Z`;
}

/**
 * The topology's event buses on this machine, one local bus each (the twin's wiring): DATA_DIR and
 * LOCAL_EVENTS_URL from the config, TWIN_FAULTS' events.* rules, and AWS_ENDPOINT_URL_EVENTBRIDGE set
 * for the handlers' SDK clients. `onStop` receives each bus's stop.
 */
export async function startEventBuses(
  topo: Topology,
  config: Pick<LocalConfig, 'dataDir' | 'eventsUrl'>,
  options: {
    localName: (id: string) => string;
    faults?: FaultInjector | undefined;
    log: (entry: Record<string, unknown>) => void;
    onStop: (stop: () => Promise<void>) => void;
  },
): Promise<Record<string, LocalEventBus>> {
  const buses: Record<string, LocalEventBus> = {};
  for (const id of Object.keys(topo.eventBuses ?? {})) {
    const bus = await startLocalEventBus({
      dataDir: config.dataDir,
      busName: options.localName(id),
      ...(config.eventsUrl ? { targetUrl: config.eventsUrl } : {}),
      ...(options.faults ? { injector: options.faults } : {}),
      log: options.log,
    });
    options.onStop(() => bus.stop());
    buses[id] = bus;
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = bus.endpoint;
  }
  return buses;
}

/** The functions that put events on a bus, comma-separated (the parity check's words). */
export function publishersOf(topo: Topology, busId: string): string {
  return Object.entries(topo.functions)
    .filter(([, fn]) => (fn.uses.eventBuses ?? []).includes(busId))
    .map(([name]) => name)
    .sort()
    .join(',');
}
