/**
 * Runs one bench scenario in this process and reports over the IPC channel (bench/run.ts forks
 * it): `{ kind: 'progress', text }` along the way, then `{ kind: 'result', result }` or
 * `{ kind: 'failure', error }`. One scenario per process: the handlers' SDK clients and caches are
 * process singletons, and a fresh process is a fresh start.
 *
 * The handlers' log lines (Powertools, on stdout) are dropped here rather than piped: the cost
 * scenario counts them, nobody reads them. Warnings and errors (stderr) still reach the parent.
 */
import { stopRunningTwins } from './bench-twin.ts';
import { SCENARIOS, type ScenarioName } from './scenarios.ts';

type Message =
  | { kind: 'progress'; text: string }
  | { kind: 'result'; result: unknown }
  | { kind: 'failure'; error: string };

function send(message: Message): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      process.stderr.write(`${JSON.stringify(message)}\n`);
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

async function main(): Promise<void> {
  const name = process.argv[2] as ScenarioName;
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`unknown scenario ${name}; one of ${Object.keys(SCENARIOS).join(', ')}`);
  process.stdout.write = ((_chunk: unknown, ...rest: unknown[]) => {
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  const result = await scenario((text) => void send({ kind: 'progress', text }));
  await send({ kind: 'result', result });
}

// Told to stop (a deadline, Ctrl-C): stop the twin first, or its DynamoDB Local outlives us.
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => {
    void stopRunningTwins().finally(() => process.exit(130));
  });

main()
  .catch(async (error: unknown) => {
    await send({
      kind: 'failure',
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    process.exitCode = 1;
  })
  .finally(() => {
    // Whatever a handler left scheduled (a cache timer, a keep-alive socket) must not hold the run.
    setTimeout(() => process.exit(), 100).unref();
    process.disconnect?.();
  });
