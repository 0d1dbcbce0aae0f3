import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { ApiError } from '../../functions/core/errors.ts';
import { firingsAfter, parseSchedule, type Schedule } from '../../functions/core/schedule-expressions.ts';
import { SCHEDULED_TIME, schedulerTime } from '../../functions/core/schedules.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './aws-local.ts';
import { replacePrivateFile } from './data-dir.ts';

/**
 * EventBridge Scheduler on one machine: the part of its REST API the product uses (CreateSchedule,
 * UpdateSchedule, DeleteSchedule, GetSchedule; the SDK's restJson1 shapes: `POST|PUT|GET|DELETE
 * /schedules/{Name}?groupName=`), so the same adapter (functions/adapters/eventbridge-schedules.ts)
 * talks to it through AWS_ENDPOINT_URL_SCHEDULER, and a firing loop with Scheduler's semantics:
 * - times from the same expression code as the product (core/schedule-expressions.ts: croner in the
 *   schedule's zone), each invocation's input with `<aws.scheduler.scheduled-time>` filled in;
 * - at least once: a firing is marked done only after its invocation returned, so a crash or a stop
 *   in between delivers it again; a failed invocation is retried (backoff 1, 2, 4 … 60 s) up to the
 *   RetryPolicy's attempts and event age, then its input goes to the DeadLetterConfig queue;
 * - a DISABLED schedule does not fire, and enabling it again does not replay what it missed;
 * - an `at()` schedule with ActionAfterCompletion DELETE is deleted after its firing.
 * State is kept in DATA_DIR/scheduler.json across restarts. After a downtime the earliest missed
 * firing of each schedule is delivered once and the schedule carries on from the current time (AWS
 * would have delivered each; a twin stopped for a week should not send a week of campaigns).
 * The clock is injectable and `tick()` runs the loop once, for tests.
 */

export interface LocalSchedulerOptions {
  readonly dataDir: string;
  /** 0: a free port. */
  readonly port?: number;
  /** Invokes the function a target ARN names, with the target's input (parsed JSON). */
  readonly invoke: (functionArn: string, payload: unknown) => Promise<unknown>;
  /** Sends a dead-lettered firing's input to the queue an SQS ARN names. */
  readonly deadLetter: (queueArn: string, body: string) => Promise<void>;
  readonly now?: () => Date;
  /** How often the loop runs by itself (ms); 0: only when `tick()` is called. */
  readonly tickMs?: number;
  /** Deliver every firing this many times (Scheduler is at-least-once): a test of the target's idempotency. */
  readonly deliveriesPerFiring?: number;
  readonly log?: (entry: Record<string, unknown>) => void;
}

export interface LocalScheduler {
  /** `http://127.0.0.1:<port>`: AWS_ENDPOINT_URL_SCHEDULER for the handlers. */
  readonly endpoint: string;
  /** Runs the firing loop once (what the timer does), delivering everything due at `now()`. */
  tick(): Promise<void>;
  /** The stored schedules (group/name → definition and firing state), for tests and the CLI. */
  list(): StoredSchedule[];
  stop(): Promise<void>;
}

/** A schedule as stored: Scheduler's own field names, plus the loop's state. */
export interface StoredSchedule {
  Name: string;
  GroupName: string;
  Arn: string;
  ScheduleExpression: string;
  ScheduleExpressionTimezone: string;
  StartDate?: number;
  State: 'ENABLED' | 'DISABLED';
  ActionAfterCompletion: 'NONE' | 'DELETE';
  FlexibleTimeWindow: { Mode: string; MaximumWindowInMinutes?: number };
  Target: {
    Arn: string;
    RoleArn: string;
    Input?: string;
    DeadLetterConfig?: { Arn?: string };
    RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
  };
  CreationDate: number;
  LastModificationDate: number;
  /** The next firing to deliver (ISO), or absent when none is left. */
  nextAt?: string;
  /** Failed attempts of `nextAt` so far, and when to try again. */
  attempts?: number;
  retryAt?: string;
}

/** Scheduler's defaults when a RetryPolicy leaves them out (API reference, RetryPolicy). */
const DEFAULT_RETRY_ATTEMPTS = 185;
const DEFAULT_EVENT_AGE_SECONDS = 86_400;

export async function startSchedulerLocal(options: LocalSchedulerOptions): Promise<LocalScheduler> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  const file = path.join(options.dataDir, 'scheduler.json');
  const schedules = new Map<string, StoredSchedule>(
    existsSync(file)
      ? Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, StoredSchedule>)
      : [],
  );
  const save = () => {
    replacePrivateFile(file, `${JSON.stringify(Object.fromEntries(schedules), null, 1)}\n`);
  };
  const keyOf = (group: string, name: string) => `${group}/${name}`;

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      const e = error as ApiError | Error;
      const [status, type] =
        e instanceof ApiError ? [400, 'ValidationException'] : [500, 'InternalServerException'];
      sendError(res, status, type, e.message);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/schedules\/([^/]+)$/.exec(url.pathname);
    if (!match) return sendError(res, 404, 'ResourceNotFoundException', `No route ${url.pathname}`);
    const name = decodeURIComponent(match[1] as string);
    const body = await readJson(req);
    const group = String(body.GroupName ?? url.searchParams.get('groupName') ?? 'default');
    const key = keyOf(group, name);
    const existing = schedules.get(key);
    switch (req.method) {
      case 'GET': {
        if (!existing)
          return sendError(res, 404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
        const { nextAt: _n, attempts: _a, retryAt: _r, ...view } = existing;
        return sendJson(res, 200, view);
      }
      case 'DELETE':
        if (!existing)
          return sendError(res, 404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
        schedules.delete(key);
        save();
        return sendJson(res, 200, {});
      case 'POST':
      case 'PUT': {
        if (req.method === 'POST' && existing)
          return sendError(res, 409, 'ConflictException', `Schedule ${name} already exists.`);
        if (req.method === 'PUT' && !existing)
          return sendError(res, 404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
        const stored = define(name, group, body, existing);
        schedules.set(key, stored);
        save();
        return sendJson(res, 200, { ScheduleArn: stored.Arn });
      }
      default:
        return sendError(res, 405, 'ValidationException', `${req.method} is not supported`);
    }
  }

  /** A created or updated schedule, its next firing computed from now (an update restarts it). */
  function define(
    name: string,
    group: string,
    body: Record<string, unknown>,
    existing: StoredSchedule | undefined,
  ): StoredSchedule {
    const at = now();
    const stored: StoredSchedule = {
      Name: name,
      GroupName: group,
      Arn: `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule/${group}/${name}`,
      ScheduleExpression: String(body.ScheduleExpression ?? ''),
      ScheduleExpressionTimezone: String(body.ScheduleExpressionTimezone ?? 'UTC'),
      ...(typeof body.StartDate === 'number' ? { StartDate: body.StartDate } : {}),
      State: body.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      ActionAfterCompletion: body.ActionAfterCompletion === 'DELETE' ? 'DELETE' : 'NONE',
      FlexibleTimeWindow: (body.FlexibleTimeWindow as StoredSchedule['FlexibleTimeWindow']) ?? {
        Mode: 'OFF',
      },
      Target: body.Target as StoredSchedule['Target'],
      CreationDate: existing?.CreationDate ?? at.getTime() / 1000,
      LastModificationDate: at.getTime() / 1000,
    };
    if (!stored.Target?.Arn || !stored.Target.RoleArn)
      throw new ApiError('VALIDATION_FAILED', 'Target.Arn and Target.RoleArn are required');
    // Scheduler's own check (moto reproduces it: getmoto/moto#8172).
    if (stored.StartDate !== undefined && stored.StartDate * 1000 < at.getTime() - 5 * 60_000)
      throw new ApiError(
        'VALIDATION_FAILED',
        'The StartDate you specify cannot be earlier than 5 minutes ago.',
      );
    const schedule = scheduleOf(stored); // throws a ValidationException for a bad expression
    // Re-enabling does not replay: the next firing is the first after now.
    const next = firstFiring(schedule, stored, new Date(at.getTime() - 1));
    return next ? { ...stored, nextAt: next.toISOString() } : stored;
  }

  const scheduleOf = (s: StoredSchedule): Schedule =>
    parseSchedule({ expression: s.ScheduleExpression, timeZone: s.ScheduleExpressionTimezone });
  const startOf = (s: StoredSchedule) =>
    new Date(s.StartDate !== undefined ? s.StartDate * 1000 : s.CreationDate * 1000);
  /** The first firing after `after`; an `at()` in the past fires at once (it is due). */
  function firstFiring(schedule: Schedule, s: StoredSchedule, after: Date): Date | undefined {
    if (schedule.kind === 'at') return schedule.at;
    return firingsAfter(schedule, after, 1, { startDate: startOf(s) })[0];
  }

  let running: Promise<void> | undefined;
  async function tick(): Promise<void> {
    while (running) await running;
    running = (async () => {
      const at = now();
      await Promise.all([...schedules.keys()].map((key) => fireDue(key, at)));
    })();
    try {
      await running;
    } finally {
      running = undefined;
    }
  }

  async function fireDue(key: string, at: Date): Promise<void> {
    const s = schedules.get(key);
    if (s?.State !== 'ENABLED' || !s.nextAt) return;
    const due = new Date(s.nextAt);
    if (due.getTime() > at.getTime() || (s.retryAt && Date.parse(s.retryAt) > at.getTime())) return;
    const input = (s.Target.Input ?? '{}').replaceAll(SCHEDULED_TIME, schedulerTime(due));
    let delivered = false;
    try {
      for (let i = 0; i < (options.deliveriesPerFiring ?? 1); i++)
        await options.invoke(s.Target.Arn, JSON.parse(input));
      delivered = true;
    } catch (error) {
      const attempts = (s.attempts ?? 0) + 1;
      const maxAttempts = s.Target.RetryPolicy?.MaximumRetryAttempts ?? DEFAULT_RETRY_ATTEMPTS;
      const maxAgeMs = (s.Target.RetryPolicy?.MaximumEventAgeInSeconds ?? DEFAULT_EVENT_AGE_SECONDS) * 1000;
      log({
        level: 'WARN',
        source: 'scheduler',
        message: `invocation of ${s.Name} for ${due.toISOString()} failed (attempt ${attempts})`,
        error: error instanceof Error ? error.message : String(error),
      });
      if (attempts <= maxAttempts && at.getTime() - due.getTime() < maxAgeMs) {
        const backoffMs = Math.min(60_000, 1000 * 2 ** (attempts - 1));
        schedules.set(key, { ...s, attempts, retryAt: new Date(at.getTime() + backoffMs).toISOString() });
        save();
        return;
      }
      if (s.Target.DeadLetterConfig?.Arn) await options.deadLetter(s.Target.DeadLetterConfig.Arn, input);
    }
    const current = schedules.get(key);
    // Changed (updated, disabled, deleted) while the invocation ran: its own state stands.
    if (current !== s) return;
    if (delivered)
      log({ level: 'INFO', source: 'scheduler', message: `fired ${s.Name} for ${due.toISOString()}` });
    const schedule = scheduleOf(s);
    const next =
      schedule.kind === 'at'
        ? undefined
        : firingsAfter(schedule, maxDate(due, at), 1, { startDate: startOf(s) })[0];
    const { nextAt: _n, attempts: _a, retryAt: _r, ...rest } = s;
    if (!next && s.ActionAfterCompletion === 'DELETE') schedules.delete(key);
    else schedules.set(key, next ? { ...rest, nextAt: next.toISOString() } : rest);
    save();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const timer =
    options.tickMs && options.tickMs > 0
      ? setInterval(() => {
          tick().catch((error: unknown) =>
            log({ level: 'ERROR', source: 'scheduler', message: 'firing loop failed', error: String(error) }),
          );
        }, options.tickMs)
      : undefined;

  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    tick,
    list: () => [...schedules.values()],
    async stop() {
      if (timer) clearInterval(timer);
      while (running) await running.catch(() => {});
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const maxDate = (a: Date, b: Date) => (a.getTime() >= b.getTime() ? a : b);

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ Message: message }));
}
