/**
 * One function in a process of its own, behind its Function URL, one invocation at a time: what a
 * Lambda execution environment is ("Each execution environment processes one request at a time",
 * Lambda developer guide, lambda-concurrency). The twin runs every function in one process, where an
 * invocation's CPU cannot be told from the stream pollers' and the aggregator's beside it; here
 * nothing else runs, so each invocation's duration and the process's CPU while it ran are its own.
 *
 * Forked by the bench (`startLambdaEnvironment`) with the twin's handler environment (the twin puts
 * it in its process's `process.env`, which a fork inherits): the handler reaches the twin's DynamoDB
 * Local and checks Twilio's signature with the simulator's auth token, as in the twin.
 *
 * Protocol (IPC): the child sends `{ kind: 'ready', url }` once listening on 127.0.0.1; the parent
 * sends `{ kind: 'report' }` and gets `{ kind: 'report', invocations: [{ ms, cpuMs }] }`, each
 * invocation's wall time and CPU (user + system) in milliseconds, oldest first.
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHttpGateway } from '../lib/local/http-gateway.ts';
import { type Invoke, loadFunction } from '../lib/local/lambda-runtime.ts';
import { type FunctionSpec, topology } from '../lib/topology.ts';

export interface InvocationTime {
  /** Wall time of the invocation, ms. */
  readonly ms: number;
  /** The process's CPU (user + system) while it ran, ms. */
  readonly cpuMs: number;
}

export interface LambdaEnvironment {
  /** The Function URL's origin (`http://127.0.0.1:<port>`). */
  readonly url: string;
  /** Every invocation so far, oldest first. */
  report(): Promise<InvocationTime[]>;
  stop(): Promise<void>;
}

type ChildMessage = { kind: 'ready'; url: string } | { kind: 'report'; invocations: InvocationTime[] };

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..');

/**
 * Forks a Lambda environment for the topology function `functionId` (e.g. `twilioStatusWebhook`)
 * with this process's environment. Rejects when the child exits or says nothing within 30 s.
 */
export function startLambdaEnvironment(functionId: string): Promise<LambdaEnvironment> {
  // The handler's log lines are dropped (the bench counts the twin's, not these); errors still show.
  // One invocation at a time, as the classic runtime: not the twin's setting for Lambda Managed
  // Instances (lib/local/lambda-runtime.ts scopeInvocations), which Powertools would follow.
  const { AWS_LAMBDA_MAX_CONCURRENCY: _concurrent, ...env } = process.env;
  const child = fork(path.join(HERE, 'lambda-environment.ts'), [functionId], {
    env,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const next = <K extends ChildMessage['kind']>(kind: K): Promise<Extract<ChildMessage, { kind: K }>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`the Lambda environment sent no ${kind} within 30 s`)),
        30_000,
      );
      const onMessage = (message: ChildMessage) => {
        if (message.kind === kind) done(undefined, message as Extract<ChildMessage, { kind: K }>);
      };
      const onExit = (code: number | null) => done(new Error(`the Lambda environment exited (${code})`));
      const done = (error?: Error, message?: Extract<ChildMessage, { kind: K }>) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (error) reject(error);
        else resolve(message as Extract<ChildMessage, { kind: K }>);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  // SIGTERM, then SIGKILL after 5 s: a handler stuck in a call must not hold the bench up.
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return next('ready').then(
    ({ url }) => ({
      url,
      report: async () => {
        const answer = next('report');
        child.send({ kind: 'report' });
        return (await answer).invocations;
      },
      stop,
    }),
    async (error: unknown) => {
      await stop();
      throw error;
    },
  );
}

/** The child: the function's handler behind a Function URL of its own, each invocation timed. */
async function serve(functionId: string): Promise<void> {
  const spec = (topology.functions as Readonly<Record<string, FunctionSpec>>)[functionId];
  if (!spec) throw new Error(`no function ${functionId} in the topology`);
  const invoke = await loadFunction(functionId, spec, REPO_ROOT);
  const invocations: InvocationTime[] = [];
  const timed: Invoke = async (event) => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    try {
      return await invoke(event);
    } finally {
      const used = process.cpuUsage(cpu);
      invocations.push({ ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 });
    }
  };
  const server = createServer(
    createHttpGateway({
      routes: [],
      defaultRoute: timed,
      log: (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`),
    }),
  );
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the Function URL has no port');
  process.on('message', (message: { kind?: string }) => {
    if (message.kind === 'report') process.send?.({ kind: 'report', invocations });
  });
  // Its parent gone (a bench or test stopped hard): nobody will ask for a report or stop it.
  process.once('disconnect', () => process.exit(0));
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
  process.send?.({ kind: 'ready', url: `http://127.0.0.1:${address.port}` });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  serve(process.argv[2] ?? '').catch((error: unknown) => {
    process.stderr.write(`Lambda environment failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
