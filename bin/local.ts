/**
 * `npm start`: the whole system on this machine, no AWS or Twilio account needed.
 * Settings come from the environment (README, "Configuration").
 */

import { STATUS_WEBHOOK_PATH } from '../functions/use-cases/send-task.ts';
import { ConfigError, type LocalConfig, localConfigFromEnv } from '../lib/local/config.ts';
import { JavaMissingError } from '../lib/local/dynamodb-local.ts';
import { describeFaultPlan } from '../lib/local/faults/spec.ts';
import { PortInUseError } from '../lib/local/free-port.ts';
import { type LocalTwin, startLocalTwin } from '../lib/local/twin.ts';
import { TwinLockedError } from '../lib/local/twin-lock.ts';

async function main(): Promise<void> {
  // Whatever the twin and its emulators write under DATA_DIR (secrets, every phone number) is the user's only.
  process.umask(0o077);
  const config = localConfigFromEnv(process.env);
  const stopRequested = new AbortController();
  let twin: LocalTwin | undefined;
  let stopSignal: string | undefined;
  let signals = 0;

  const stop = async (signal: string) => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(`${signal} again: exiting now.\n`);
      process.exit(130);
    }
    if (!twin) {
      // Handled from the start: a Ctrl-C while DynamoDB Local boots must not orphan its Java process.
      stopSignal = signal;
      stopRequested.abort();
      process.stdout.write(`\n${signal}: stopping as soon as the start finishes…\n`);
      return;
    }
    process.stdout.write(`\n${signal}: stopping the local twin…\n`);
    try {
      await twin.stop();
      process.stdout.write('Stopped cleanly.\n');
      process.exit(0);
    } catch (error) {
      process.stderr.write(
        `Stopped with errors: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // A closed terminal: DynamoDB Local, in a process group of its own, would not hear it.
  process.on('SIGHUP', () => void stop('SIGHUP'));

  const started = Date.now();
  twin = await startLocalTwin(config, { stopRequested: stopRequested.signal });
  if (stopSignal) {
    signals = 0;
    return stop(stopSignal);
  }
  printBanner(twin, config, Date.now() - started);
}

function printBanner(twin: LocalTwin, config: LocalConfig, ms: number): void {
  const sim = twin.simulator;
  const lines = [
    '',
    `WhatsApp broadcast: local twin is up (${(ms / 1000).toFixed(1)} s)`,
    '',
    `  API               ${twin.apiUrl}        try: curl ${twin.apiUrl}/healthz`,
    `  Console           ${twin.consoleUrl}   (sign in with an API key below)`,
    `  Public base URL   ${twin.publicBaseUrl}   (what Twilio calls back; PUBLIC_BASE_URL)`,
    ...webhookLines(twin),
    ...(sim
      ? [
          `  Twilio simulator  ${sim.url}`,
          `    Account SID     ${sim.accountSid}`,
          `    Auth token      ${sim.authToken}`,
          `    Sender          ${process.env.TWILIO_FROM ?? ''}`,
          // Kept in DATA_DIR across starts: a number that answers 21610 today may have been unsubscribed last week.
          ...(sim.unsubscribedCount() > 0
            ? [
                `    Unsubscribed    ${sim.unsubscribedCount()} number(s): every send to them fails with 21610 (POST /_simulator/unsubscribe; kept across starts until the number writes START, YES or UNSTOP, or DATA_DIR is deleted)`,
              ]
            : []),
        ]
      : [`  Twilio            real account ${process.env.TWILIO_ACCOUNT_SID ?? ''}`]),
    `  DynamoDB Local    ${twin.dynamodbEndpoint}   tables: ${Object.values(twin.tableNames).join(', ')}`,
    `  SQS (fauxqs)      ${twin.sqsEndpoint}   queues: ${Object.values(twin.queues)
      .flatMap((q) => [q.main.name, q.deadLetter.name])
      .join(', ')}`,
    `  S3 (fauxqs)       ${twin.s3Endpoint}   buckets: ${Object.values(twin.buckets).join(', ')} (path-style)`,
    `  Scheduler         ${twin.scheduler.endpoint}   schedules: ${twin.scheduler.list().length} (campaigns, scheduled broadcasts)`,
    ...Object.values(twin.eventBuses).flatMap((bus) => [
      `  Event bus         ${bus.endpoint}   bus: ${bus.busName} (lifecycle events; AWS_ENDPOINT_URL_EVENTBRIDGE)`,
      `    Events file     ${bus.file}   (one JSON line per event: tail -f it)`,
      bus.targetUrl
        ? `    Events POSTed   ${bus.targetUrl}   (LOCAL_EVENTS_URL; at least once, retried)`
        : '    Events POSTed   nowhere (set LOCAL_EVENTS_URL=http://… to have each POSTed)',
    ]),
    ...(config.devKeyGenerated
      ? [
          `  API key           ${config.apiKeys[0]?.key}   (tenant 'dev'; set LOCAL_API_KEYS=tenant:key,… to choose your own)`,
        ]
      : [
          `  API keys          tenants ${config.apiKeys.map((k) => k.tenantId).join(', ')} (from LOCAL_API_KEYS; a key an earlier start on this DATA_DIR seeded, if any, still works until revoked: npm run cli -- api-key revoke --key <key> --local)`,
        ]),
    `  Data              ${config.dataDir}`,
    `  Metrics           ${config.dataDir}/metrics.jsonl   (EMF lines, as CloudWatch gets them; POWERTOOLS_METRICS_DISABLED=true: none)`,
    ...(config.faults
      ? [
          `  Faults            ${describeFaultPlan(config.faults)}`,
          '                    (TWIN_FAULTS; POWERTOOLS_LOG_LEVEL=DEBUG logs each one)',
        ]
      : []),
    '',
    'Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * The webhook URLs to give Twilio, for the webhook routes this build serves, and where each message's
 * own StatusCallback points: the status webhook's Function URL (a server of its own here), unless
 * PUBLIC_BASE_URL sends callbacks through the API.
 */
function webhookLines(twin: LocalTwin): string[] {
  const served = (path: string) => twin.wired.routes.some((r) => r.startsWith(`POST ${path} `));
  const callbacks = twin.functionUrls.statusCallback;
  return [
    ...[
      ['Status webhook ', '/webhooks/twilio/status'],
      ['Inbound webhook', '/webhooks/twilio/inbound'],
    ]
      .filter(([, path]) => served(path as string))
      .map(([label, path]) => `  ${label}   ${twin.publicBaseUrl}${path}`),
    ...(callbacks && callbacks !== twin.publicBaseUrl
      ? [
          `  Status callbacks  ${callbacks}${STATUS_WEBHOOK_PATH}   (each message's StatusCallback: the status webhook's Function URL)`,
        ]
      : []),
  ];
}

main().catch((error: unknown) => {
  const known =
    error instanceof ConfigError ||
    error instanceof JavaMissingError ||
    error instanceof TwinLockedError ||
    error instanceof PortInUseError;
  process.stderr.write(
    `Could not start the local twin: ${known || !(error instanceof Error) ? String(error instanceof Error ? error.message : error) : error.stack}\n`,
  );
  process.exit(1);
});
