import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ScheduledEvent } from 'aws-lambda';
import { DEFAULT_SENDER_MPS, SENDS_PER_INVOCATION, sendConcurrencyFor } from '../../functions/core/pacing.ts';
import { type ConsumerSpec, topology as defaultTopology, type Topology } from '../topology.ts';
import { validateTopology } from '../topology-wiring.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './aws-local.ts';
import type { LocalConfig } from './config.ts';
import { CONSOLE_PATH, withConsole } from './console-files.ts';
import { ensurePrivateDataDir, replacePrivateFile, restrictTwinFiles } from './data-dir.ts';
import {
  type DynamoDbLocal,
  deleteTables,
  ensureTables,
  startDynamoDbLocal,
  streamArnOf,
} from './dynamodb-local.ts';
import { type StreamSource, startStreamSource } from './dynamodb-stream-source.ts';
import { type LocalEventBus, publishersOf, startEventBuses } from './eventbridge-local.ts';
import { FaultInjector } from './faults/injector.ts';
import { startFaultProxy } from './faults/proxy.ts';
import { openFrontDoor } from './front-door.ts';
import { openFunctionUrlDoors } from './function-url-doors.ts';
import { type GrantGuard, startGuardFor } from './grant-guard-wiring.ts';
import { handlerEnvironment, missing } from './handler-environment.ts';
import { createHttpGateway } from './http-gateway.ts';
import { type Invoke, loadFunction, scopeInvocations } from './lambda-runtime.ts';
import { applyExpirations, ensureBuckets, localS3Client, startBucketNotifier } from './s3-local.ts';
import { type LocalScheduler, startSchedulerLocal } from './scheduler-local.ts';
import { startSecretsManagerLocal } from './secrets-manager-local.ts';
import { seedApiKeys } from './seed-keys.ts';
import { allSettledOrThrow, Cleanup } from './setup-steps.ts';
import { type SqsEventSource, startSqsEventSource } from './sqs-event-source.ts';
import {
  ensureQueue,
  ensureQueues,
  type LocalQueue,
  type LocalQueues,
  localSqsClient,
  startSqsLocal,
} from './sqs-local.ts';
import { type LocalTimeToLive, startLocalTimeToLive } from './ttl-local.ts';
import type { TwilioSimulator } from './twilio-simulator.ts';
import { startTwilioSimulatorThread } from './twilio-simulator-thread.ts';
import { acquireTwinLock } from './twin-lock.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Local resource names; on AWS CloudFormation names them. */
const RESOURCE_PREFIX = 'broadcast';
export const localName = (id: string) => `${RESOURCE_PREFIX}-${id}`;

export interface LocalTwin {
  readonly apiUrl: string;
  /** The admin console, on the API's origin (`${apiUrl}/console/`). */
  readonly consoleUrl: string;
  readonly publicBaseUrl: string;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** S3 (fauxqs serves it on the SQS endpoint), path-style. */
  readonly s3Endpoint: string;
  /** Bucket names by topology id. */
  readonly buckets: Readonly<Record<string, string>>;
  readonly queues: LocalQueues['queues'];
  readonly tableNames: Readonly<Record<string, string>>;
  readonly simulator?: TwilioSimulator;
  /** Function URLs by id (Lambda Function URLs on AWS; a local server each here). */
  readonly functionUrls: Readonly<Record<string, string>>;
  /**
   * The injected faults (TWIN_FAULTS), when any are configured: the plan, and how many of each were
   * injected so far, by name as written (`{ 'dynamodb.TransactionConflict': 3, … }`).
   */
  readonly faults?: Pick<FaultInjector, 'plan' | 'injected'>;
  /**
   * The calls the grant guard refused (lib/local/grant-guard.ts): a function's SDK call its topology
   * `uses` does not allow fails as on AWS, and stop() fails while any are left unforgotten.
   */
  readonly grants: Pick<GrantGuard, 'denied' | 'forget'>;
  /**
   * What was actually wired (`GET /healthz -> healthz`, `send -> sendMessages`, `main stream -> …`,
   * `statusCallback url -> …`), for the parity check.
   */
  readonly wired: {
    routes: string[];
    consumers: string[];
    schedules: string[];
    streams: string[];
    functionUrls: string[];
    /** `bucket prefix -> queue`: each bucket notification. */
    notifications: string[];
    /** `group -> target function`: each schedule group (campaigns, scheduled broadcasts). */
    scheduleGroups: string[];
    /** `bus -> function, …`: each event bus and the functions that put events on it. */
    eventBuses: string[];
  };
  /** Runs a scheduled rule now, as its timer would. */
  runSchedule(id: string): Promise<unknown>;
  /** The EventBridge Scheduler emulator of the schedule groups (campaigns, scheduled broadcasts). */
  readonly scheduler: LocalScheduler;
  /** The lifecycle events' local bus (DATA_DIR/events.jsonl, LOCAL_EVENTS_URL), by topology id. */
  readonly eventBuses: Readonly<Record<string, LocalEventBus>>;
  /** DynamoDB's TTL, which DynamoDB Local lacks: `expire(now)` deletes what expired by then. */
  readonly timeToLive: Pick<LocalTimeToLive, 'expire'>;
  stop(): Promise<void>;
}

type Log = (entry: Record<string, unknown>) => void;

/**
 * Optional observers for measuring the twin (npm run bench); nothing in the product uses them.
 * On AWS the event source mapping's receives and deletes and every invocation are billed, so a
 * cost count needs to see them.
 */
export interface TwinInstrumentation {
  /** Sees the SQS client the event-source pollers use (e.g. to add request-counting middleware). */
  readonly pollerSqsClient?: (client: SQSClient) => void;
  /** Wraps each function's invoker (e.g. to count and time invocations). */
  readonly wrapInvoke?: (functionName: string, invoke: Invoke) => Invoke;
}

export interface LocalTwinOptions {
  topology?: Topology;
  log?: Log;
  rootDir?: string;
  instrument?: TwinInstrumentation;
  /** Aborted when a stop is asked for during the start (Ctrl-C): the API answers 503 STOPPING from then on. */
  stopRequested?: AbortSignal;
  /**
   * Test hook: awaited when the emulators are up and the handlers loaded, before the queue consumers
   * and schedules start and the API stops answering 503 STARTING, so a test can hold the start there
   * (test/local-twin.test.ts). Nothing in the product sets it.
   */
  beforeReady?: () => Promise<void>;
  /**
   * The Scheduler emulator's clock and loop (tests): with `tickMs: 0` it fires only when
   * `scheduler.tick()` is called. Default: the real clock, every second (Scheduler fires within its
   * minute, so a second's granularity loses nothing).
   */
  scheduler?: { now?: () => Date; tickMs?: number; deliveriesPerFiring?: number };
  /**
   * Test hook: a DynamoDB Local this twin uses instead of starting its own (the suite's shared one,
   * where this process's access key keeps its tables apart: aws-local.ts). The twin creates its
   * tables there and deletes them at its stop; it neither starts nor stops that process.
   */
  dynamodbEndpoint?: string;
}

/**
 * The whole system on one machine: DynamoDB Local, the fauxqs SQS emulator, the Twilio
 * simulator, an HTTP server speaking API Gateway's payload 2.0, one event-source poller
 * per consumer and one timer per schedule, all built from the same topology as the
 * CDK stack and running the same handler modules. Everything listens on 127.0.0.1 only.
 *
 * DATA_DIR is the user's only (0700, files 0600) and owned by one twin at a time: a start finds
 * DATA_DIR/twin.lock held by a running twin and throws TwinLockedError before it touches anything
 * (ports, processes, files); a lock left by a crash is taken over, and only then is a DynamoDB
 * Local that crash left behind killed. The API port is bound first and answers 503 STARTING
 * until the twin is ready, 503 STOPPING once stop() began (lib/local/front-door.ts).
 *
 * Handlers find their resources through environment variables, as on Lambda; the twin
 * sets them on this process (restored by stop()), so run one twin per process.
 */
export async function startLocalTwin(
  config: LocalConfig,
  options: LocalTwinOptions = {},
): Promise<LocalTwin> {
  const topo = options.topology ?? defaultTopology;
  validateTopology(topo);
  const log: Log = options.log ?? ((entry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
  const rootDir = options.rootDir ?? REPO_ROOT;
  ensurePrivateDataDir(config.dataDir, (message) => log({ level: 'WARN', source: 'twin', message }));
  const lock = await acquireTwinLock(config.dataDir);
  if (lock.tookOver)
    log({
      level: 'WARN',
      source: 'twin',
      message: `took over ${lock.file}${lock.previousOwner ? ` from PID ${lock.previousOwner.pid} (started ${lock.previousOwner.startedAt})` : ''}: that twin is not running any more`,
    });
  const stack = new Cleanup();
  stack.push(async () => lock.release());
  // Written once this run's emulators are up; until then (and after the stop) nobody may use an old one.
  const endpointsFile = path.join(config.dataDir, 'endpoints.json');
  rmSync(endpointsFile, { force: true });
  stack.push(async () => rmSync(endpointsFile, { force: true }));
  const savedEnv = { ...process.env };
  stack.push(async () => {
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  });
  let stopping = false;

  try {
    const door = await openFrontDoor(config.port);
    stack.push(() => door.close());
    options.stopRequested?.addEventListener('abort', () => void door.stopping(), { once: true });
    const apiUrl = `http://127.0.0.1:${door.port}`;
    const publicBaseUrl = config.publicBaseUrl ?? apiUrl;
    let markReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    // Each injected fault is logged at DEBUG: only shown with POWERTOOLS_LOG_LEVEL=DEBUG.
    const debug = /^(debug|trace)$/i.test(config.handlerSettings.POWERTOOLS_LOG_LEVEL ?? '');
    const faultLog = (entry: Record<string, unknown>) => {
      if (debug) log({ level: 'DEBUG', source: 'faults', ...entry });
    };
    const faults = config.faults ? new FaultInjector(config.faults, faultLog) : undefined;

    // All settled before a failure is thrown: one failing fast (a port in use) must not leave another
    // (DynamoDB Local's Java process) starting with nobody left to stop it.
    const shared = options.dynamodbEndpoint;
    // A DynamoDB Local the twin does not own: only its tables are the twin's to remove.
    const sharedDynamoDb = async (endpoint: string) => {
      stack.push(() => deleteTables(endpoint, Object.keys(topo.tables).map(localName)));
      return { endpoint };
    };
    const [dynamodb, sqsServer, simulator] = await allSettledOrThrow([
      shared
        ? sharedDynamoDb(shared)
        : startDynamoDbLocal({
            dataDir: config.dataDir,
            port: config.dynamodbPort || undefined,
            killOrphan: lock.tookOver,
            niceness: config.dynamodbNiceness,
          }).then((d: DynamoDbLocal) => {
            stack.push(() => d.stop());
            void d.exited.then((code) => {
              if (!stopping)
                log({
                  level: 'ERROR',
                  source: 'dynamodb-local',
                  message: `DynamoDB Local (PID ${d.pid}) exited with code ${code}: API calls fail until the twin is restarted`,
                });
            });
            for (const message of d.warnings) log({ level: 'WARN', source: 'dynamodb-local', message });
            return d;
          }),
      startSqsLocal({ dataDir: config.dataDir, port: config.sqsPort }).then((s) => {
        stack.push(() => s.stop());
        return s;
      }),
      config.twilio.kind === 'simulator'
        ? startTwilioSimulatorThread({
            port: config.twilio.port,
            accountSid: config.twilio.accountSid,
            authToken: config.twilio.authToken,
            mps: config.twilio.mps,
            latencyMs: config.twilio.latencyMs,
            callbackDelayMs: config.twilio.callbackDelayMs,
            defaultFrom: config.twilio.from,
            dataDir: config.dataDir,
            inboundUrl: `${publicBaseUrl.replace(/\/+$/, '')}/webhooks/twilio/inbound`,
            // Callbacks a previous run left unfinished would meet 503 STARTING before that.
            resumeWhen: ready,
            ...(config.faults
              ? { faultPlan: config.faults, faultLog, timeoutHoldMs: config.twilio.timeoutHoldMs }
              : {}),
            log: (line) => log({ level: 'INFO', source: 'twilio-simulator', message: line }),
            logError: (line) => log({ level: 'ERROR', source: 'twilio-simulator', message: line }),
          }).then((s) => {
            stack.push(() => s.stop());
            return s;
          })
        : Promise.resolve(undefined),
    ]);

    const tableNames = Object.fromEntries(Object.keys(topo.tables).map((id) => [id, localName(id)]));
    await ensureTables(dynamodb.endpoint, topo.tables, localName);
    // DynamoDB Local does not run TTL: the twin does (lib/local/ttl-local.ts).
    const timeToLive = startLocalTimeToLive({
      endpoint: dynamodb.endpoint,
      tables: topo.tables,
      tableNames,
      log,
    });
    stack.push(() => timeToLive.stop());
    // Each function URL is a server of its own, on the port it had before (function-url-doors.ts): its
    // address goes to the functions that use it, so it is bound before they are loaded.
    const urlServers = await openFunctionUrlDoors(config.dataDir, Object.keys(topo.functionUrls), (message) =>
      log({ level: 'WARN', source: 'twin', message }),
    );
    const functionUrls: Record<string, string> = {};
    for (const [id, server] of Object.entries(urlServers)) {
      stack.push(() => server.close());
      // With an explicit PUBLIC_BASE_URL (a tunnel for real Twilio), callbacks go through the API's route.
      functionUrls[id] = config.publicBaseUrl ?? `http://127.0.0.1:${server.port}`;
    }
    await seedApiKeys(dynamodb.endpoint, tableNames.main, config.apiKeys, (message) =>
      log({ level: 'WARN', source: 'twin', message }),
    );
    const queues = await ensureQueues(sqsServer, topo.queues, localName);
    // Each schedule group's dead-letter queue (on AWS, an SQS queue of the stack).
    const scheduleGroups: Record<
      string,
      { name: string; targetArn: string; roleArn: string; deadLetterArn: string; deadLetterUrl: string }
    > = {};
    for (const [id, group] of Object.entries(topo.scheduleGroups)) {
      const dlq = await ensureQueue(
        localSqsClient(sqsServer.address),
        sqsServer.address,
        `${localName(id)}-dlq`,
        {
          MessageRetentionPeriod: String(group.deadLetter.retentionDays * 86_400),
        },
      );
      scheduleGroups[id] = {
        name: localName(id),
        targetArn: localFunctionArn(group.target),
        roleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${localName(id)}-invoke`,
        deadLetterArn: dlq.arn,
        deadLetterUrl: dlq.url,
      };
    }
    const s3 = localS3Client(sqsServer.address);
    stack.push(async () => s3.destroy());
    const buckets = await ensureBuckets(sqsServer, s3, topo.buckets, localName);
    const bucketNames = Object.fromEntries(buckets.map((b) => [b.id, b.name]));
    writeEndpoints(config.dataDir, sqsServer.address, dynamodb.endpoint, queues, tableNames, bucketNames);
    // What the emulators created themselves, and what an earlier version left readable to others.
    restrictTwinFiles(config.dataDir);

    // With AWS faults configured, the handlers' clients reach the emulators through a fault proxy.
    const proxy = async (service: 'dynamodb' | 'sqs', target: string): Promise<string> => {
      if (!faults || faults.rules(service).length === 0) return target;
      const started = await startFaultProxy({ service, target, injector: faults });
      stack.push(() => started.stop());
      return started.url;
    };
    const [handlerDynamodb, handlerSqs] = await Promise.all([
      proxy('dynamodb', dynamodb.endpoint),
      proxy('sqs', sqsServer.address),
    ]);

    // Tenants' own Twilio credentials (Secrets Manager on AWS), kept under DATA_DIR.
    const secretsManager = await startSecretsManagerLocal({ dataDir: config.dataDir });
    stack.push(() => secretsManager.stop());
    // The event buses (lib/local/eventbridge-local.ts): listening before the handlers' first call.
    const eventBuses = await startEventBuses(topo, config, {
      localName,
      faults,
      log,
      onStop: (s) => stack.push(s),
    });

    Object.assign(
      process.env,
      handlerEnvironment(topo, config, {
        secretsManagerEndpoint: secretsManager.url,
        dynamodbEndpoint: handlerDynamodb,
        sqsEndpoint: handlerSqs,
        // The SDK sends an SQS call to its QueueUrl's host when it differs from the client's endpoint
        // (useQueueUrlAsEndpoint): the handlers' queue URLs must name the proxy too. fauxqs finds a
        // queue by the URL's path, whatever its host.
        queues: handlerSqs === sqsServer.address ? queues : readdressQueues(queues, handlerSqs),
        tableNames,
        buckets: bucketNames,
        s3Endpoint: sqsServer.address,
        publicBaseUrl,
        simulator,
        functionUrls,
        scheduleGroups,
        eventBuses: Object.fromEntries(Object.entries(eventBuses).map(([id, bus]) => [id, bus.busName])),
      }),
    );

    const guard = startGuardFor(
      topo,
      { queues, tableNames, buckets: bucketNames, scheduleGroups },
      log,
      config.grantsLog,
    );
    stack.push(async () => guard.stop());
    // Each invocation in its own scope, so a log line names the function and request that wrote it.
    const unscope = scopeInvocations();
    stack.push(async () => unscope());
    // The simulator stops once the sends and scheduled firings in flight have finished (steps run in
    // reverse: after the queue consumers and the Scheduler, below), while everything a status callback
    // needs is still up, its door included: a status it has not posted yet stays pending and is posted
    // after the next start. Stopped last, it went on stepping after the callback doors had closed, and
    // gave up each callback it posted (40-odd in a Ctrl-C during a 300-recipient send).
    if (simulator) stack.push(() => simulator.stop());
    const invokers: Record<string, Invoke> = {};
    const wrapInvoke = options.instrument?.wrapInvoke ?? ((_name: string, invoke: Invoke) => invoke);
    for (const [name, spec] of Object.entries(topo.functions))
      invokers[name] = wrapInvoke(name, guard.wrap(name, await loadFunction(name, spec, rootDir)));
    const invokerOf = (name: string): Invoke => {
      const invoke = invokers[name];
      if (!invoke) throw new Error(`No function ${name}`);
      return invoke;
    };

    // The schedule groups' Scheduler: listening before the handlers' first call, firing once ready.
    const scheduler = await startSchedulerLocal({
      dataDir: config.dataDir,
      ...(options.scheduler?.now ? { now: options.scheduler.now } : {}),
      // Its loop starts with the twin's readiness (below).
      tickMs: 0,
      ...(options.scheduler?.deliveriesPerFiring
        ? { deliveriesPerFiring: options.scheduler.deliveriesPerFiring }
        : {}),
      invoke: (arn, payload) => {
        const name = Object.keys(topo.functions).find((fn) => localFunctionArn(fn) === arn);
        if (!name) throw new Error(`No function with ARN ${arn}`);
        return invokerOf(name)(payload);
      },
      deadLetter: async (arn, body) => {
        const url = Object.values(scheduleGroups).find((g) => g.deadLetterArn === arn)?.deadLetterUrl;
        if (!url) throw new Error(`No queue with ARN ${arn}`);
        const client = localSqsClient(sqsServer.address);
        try {
          await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
        } finally {
          client.destroy();
        }
      },
      log,
    });
    stack.push(() => scheduler.stop());
    process.env.AWS_ENDPOINT_URL_SCHEDULER = scheduler.endpoint;

    const wired: LocalTwin['wired'] = {
      routes: [],
      consumers: [],
      schedules: [],
      streams: [],
      functionUrls: [],
      notifications: [],
      scheduleGroups: Object.entries(topo.scheduleGroups).map(([id, g]) => `${id} -> ${g.target}`),
      eventBuses: Object.keys(eventBuses).map((id) => `${id} -> ${publishersOf(topo, id)}`),
    };
    for (const [id, spec] of Object.entries(topo.functionUrls)) {
      wired.functionUrls.push(`${id} -> ${spec.function}`);
      urlServers[id]?.ready(
        createHttpGateway({
          routes: [{ method: 'POST', path: '/{proxy+}', invoke: invokerOf(spec.function) }],
          log,
        }),
      );
    }
    const routes = topo.routes.map((r) => {
      wired.routes.push(`${r.method} ${r.path} -> ${r.function}`);
      return { method: r.method, path: r.path, invoke: invokerOf(r.function) };
    });
    const defaultRoute = topo.defaultRoute;
    if (defaultRoute) wired.routes.push(`$default -> ${defaultRoute.function}`);
    const gateway = createHttpGateway({
      routes,
      ...(defaultRoute ? { defaultRoute: invokerOf(defaultRoute.function) } : {}),
      log,
    });
    await options.beforeReady?.();

    const sqs = localSqsClient(sqsServer.address);
    options.instrument?.pollerSqsClient?.(sqs);
    stack.push(async () => sqs.destroy());
    const senderMps = Number(config.handlerSettings.SENDER_MPS ?? DEFAULT_SENDER_MPS);
    const sendsPerInvocation = Number(config.handlerSettings.SEND_CONCURRENCY ?? SENDS_PER_INVOCATION);
    const sources: SqsEventSource[] = topo.consumers.map((declared: ConsumerSpec) => {
      // As on AWS: the send consumer's concurrency follows the sender's rate (and the sends each
      // invocation runs at once: fewer per invocation, more invocations).
      const consumer = declared.scaleWithSenderRate
        ? {
            ...declared,
            maxConcurrency: sendConcurrencyFor(senderMps, sendsPerInvocation, declared.maxConcurrency),
          }
        : declared;
      const queue = queues[consumer.queue];
      if (!queue) throw new Error(`No queue ${consumer.queue}`);
      wired.consumers.push(`${consumer.queue} -> ${consumer.function}`);
      return startSqsEventSource({
        sqs,
        queueUrl: queue.main.url,
        queueArn: queue.main.arn,
        consumer,
        functionName: consumer.function,
        invoke: invokerOf(consumer.function),
        awsRegion: LOCAL_REGION,
        log: (entry) => log({ source: `sqs:${consumer.queue}`, ...entry }),
      });
    });
    stack.push(() => Promise.all(sources.map((s) => s.stop())).then(() => undefined));

    const streamSources: StreamSource[] = [];
    for (const consumer of topo.streamConsumers) {
      const tableName = tableNames[consumer.table] ?? missing('table', consumer.table);
      const streamArn = await streamArnOf(dynamodb.endpoint, tableName);
      const failureQueue =
        queues[consumer.onFailureQueue]?.main.url ?? missing('queue', consumer.onFailureQueue);
      wired.streams.push(`${consumer.table} stream -> ${consumer.function}`);
      streamSources.push(
        startStreamSource({
          endpoint: dynamodb.endpoint,
          streamArn,
          consumer,
          invoke: invokerOf(consumer.function),
          onFailure: async (failure) => {
            await sqs.send(
              new SendMessageCommand({ QueueUrl: failureQueue, MessageBody: JSON.stringify(failure) }),
            );
          },
          // The first consumer of a table keeps the file it always had; each other one has its own.
          checkpointFile: path.join(
            config.dataDir,
            topo.streamConsumers.find((c) => c.table === consumer.table) === consumer
              ? `stream-${consumer.table}.checkpoint.json`
              : `stream-${consumer.table}-${consumer.function}.checkpoint.json`,
          ),
          log: (entry) => log({ source: `stream:${consumer.table}`, ...entry }),
          deletedByTimeToLive: (keys) => timeToLive.deletedByTimeToLive(tableName, keys as never),
        }),
      );
    }
    stack.push(() => Promise.all(streamSources.map((s) => s.stop())).then(() => undefined));

    // S3's bucket notifications and lifecycle expiry, which fauxqs does not do itself (s3-local.ts).
    const expire = () =>
      applyExpirations(s3, buckets).catch((error: unknown) =>
        log({ level: 'WARN', source: 's3', message: 'expiring objects failed', error: String(error) }),
      );
    await expire();
    const expiry = setInterval(() => void expire(), 3_600_000);
    stack.push(async () => clearInterval(expiry));
    const notifier = await startBucketNotifier({
      server: sqsServer,
      s3,
      sqs,
      buckets,
      queueUrl: (id) => queues[id]?.main.url ?? missing('queue', id),
      stateFile: path.join(config.dataDir, 's3-notified.json'),
      log,
    });
    stack.push(() => notifier.stop());
    wired.notifications.push(...notifier.wired);

    const runSchedule = async (id: string): Promise<unknown> => {
      const schedule = topo.schedules.find((s) => s.id === id);
      if (!schedule) throw new Error(`No schedule ${id}`);
      return invokerOf(schedule.function)(scheduledEvent(id));
    };
    const timers = topo.schedules.map((schedule) => {
      const seconds = config.scheduleIntervals[schedule.localIntervalEnvVar] ?? schedule.everyMinutes * 60;
      wired.schedules.push(`${schedule.id} -> ${schedule.function}`);
      return setInterval(() => {
        runSchedule(schedule.id).catch((error: unknown) =>
          log({
            level: 'ERROR',
            source: `schedule:${schedule.id}`,
            message: 'scheduled run failed',
            error: error instanceof Error ? error.message : String(error),
          }),
        );
      }, seconds * 1000);
    });
    stack.push(async () => {
      for (const t of timers) clearInterval(t);
    });
    // Stop taking requests before anything behind them goes away (runs first: steps run in reverse);
    // the requests already taken are answered first.
    stack.push(async () => {
      stopping = true;
      await door.stopping();
    });
    const schedulerTickMs = options.scheduler?.tickMs ?? 1000;
    if (schedulerTickMs > 0) {
      const schedulerTimer = setInterval(() => {
        scheduler
          .tick()
          .catch((error: unknown) =>
            log({ level: 'ERROR', source: 'scheduler', message: 'firing loop failed', error: String(error) }),
          );
      }, schedulerTickMs);
      stack.push(async () => clearInterval(schedulerTimer));
    }
    door.ready(withConsole(gateway));
    markReady();

    return {
      apiUrl,
      consoleUrl: `${apiUrl}${CONSOLE_PATH}`,
      publicBaseUrl,
      dynamodbEndpoint: dynamodb.endpoint,
      sqsEndpoint: sqsServer.address,
      s3Endpoint: sqsServer.address,
      buckets: bucketNames,
      queues,
      tableNames,
      ...(simulator ? { simulator } : {}),
      functionUrls,
      ...(faults
        ? {
            faults: {
              plan: faults.plan,
              // twilio.* rules are counted in the simulator's thread, the others here.
              injected: () => ({ ...faults.injected(), ...simulator?.injectedFaults() }),
            },
          }
        : {}),
      wired,
      runSchedule,
      scheduler,
      eventBuses,
      grants: guard,
      timeToLive,
      stop: async () => {
        stopping = true;
        await stack.run();
        guard.failOnDenied();
      },
    };
  } catch (error) {
    stopping = true;
    await stack.run();
    throw error;
  }
}

/** The same queues, their URLs on another origin (`http://127.0.0.1:<port>/000000000000/<name>`). */
function readdressQueues(queues: LocalQueues['queues'], origin: string): LocalQueues['queues'] {
  const moved = (queue: LocalQueue): LocalQueue => ({
    ...queue,
    url: `${origin}${new URL(queue.url).pathname}`,
  });
  return Object.fromEntries(
    Object.entries(queues).map(([id, q]) => [id, { main: moved(q.main), deadLetter: moved(q.deadLetter) }]),
  );
}

/**
 * Where this run's emulators, queues and tables are, for operator commands
 * (`npm run cli -- dlq … --local`, `api-key … --local`): their ports are picked at start.
 */
function writeEndpoints(
  dataDir: string,
  sqsEndpoint: string,
  dynamodbEndpoint: string,
  queues: LocalQueues['queues'],
  tables: Record<string, string>,
  buckets: Record<string, string>,
): void {
  const byId = Object.fromEntries(
    Object.entries(queues).map(([id, q]) => [id, { url: q.main.url, deadLetterUrl: q.deadLetter.url }]),
  );
  replacePrivateFile(
    path.join(dataDir, 'endpoints.json'),
    `${JSON.stringify({ sqsEndpoint, s3Endpoint: sqsEndpoint, dynamodbEndpoint, tables, buckets, queues: byId }, null, 2)}\n`,
  );
}

/** What a function's ARN would be on AWS: the twin's Scheduler names its target by it. */
function localFunctionArn(functionId: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${localName(functionId)}`;
}

function scheduledEvent(ruleId: string): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: new Date().toISOString(),
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${localName(ruleId)}`],
    detail: {},
  };
}
