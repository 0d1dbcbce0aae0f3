/**
 * Operator commands: tenant API keys and dead-letter queues, on a deployed stack or on the running
 * local twin (`--local`). `npm run cli -- --help` prints the usage below.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { queueDepth, redriveDeadLetters } from '../functions/adapters/dead-letters.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { runningTwin } from '../lib/local/twin-lock.ts';
import { queueUrlOutputs } from '../lib/output-names.ts';
import { topology } from '../lib/topology.ts';
import { API_KEY_NOTES, API_KEY_USAGE, ApiKeyUsageError, apiKeyCommand } from './api-key-command.ts';
import { CAMPAIGN_NOTES, CAMPAIGN_USAGE, CampaignUsageError, campaignCommand } from './campaign-command.ts';
import { requiredOutput, stackOutputs } from './stack-outputs.ts';

/** Queues whose dead letters are worth putting back (countFailures holds reports, not work: see README). */
/**
 * The queues whose dead letters are work to put back: those a function consumes (countFailures holds
 * reports of stream batches given up on, for the recount, not work).
 */
const QUEUES: readonly string[] = Object.keys(topology.queues).filter((id) =>
  topology.consumers.some((c) => c.queue === id),
);
const QUEUE_CHOICES = QUEUES.join('|');

const COMMAND_USAGE = {
  'api-key': API_KEY_USAGE,
  dlq: `  npm run cli -- dlq status  [--queue <queue>] (--stack <stack name> [--region <region>] | --queue-url <url> --dlq-url <url> [--region <region>] | --local) [--json]
  npm run cli -- dlq redrive --queue <queue>   (--stack <stack name> [--region <region>] | --queue-url <url> --dlq-url <url> [--region <region>] | --local) [--max <n>]
  <queue>: ${QUEUE_CHOICES}`,
  campaign: CAMPAIGN_USAGE,
} as const;
type Command = keyof typeof COMMAND_USAGE;

const NOTES = `On AWS: --stack reads the table and the queues from the stack's outputs (CloudFormation
DescribeStacks). Without it: --table is the stack's MainTableName output (or set TABLE_NAME);
--queue-url and --dlq-url are its <Queue>QueueUrl and <Queue>DeadLetterQueueUrl outputs (SendQueueUrl
and SendDeadLetterQueueUrl for --queue send, FanOutQueueUrl, … for fanOut). Credentials come from the
usual AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, aws sso login, ...); the region from --region, else
AWS_REGION, AWS_DEFAULT_REGION, or your AWS profile's region (~/.aws/config): the region the stack was
deployed to.
With --local the command talks to the running \`npm start\` (DynamoDB Local, the SQS emulator), found in
$DATA_DIR/endpoints.json; DATA_DIR defaults to .local, set it as you did for npm start.
\`dlq status\` without --queue shows every queue.
${API_KEY_NOTES}
${CAMPAIGN_NOTES}`;

function usage(command?: Command): string {
  const lines = command ? COMMAND_USAGE[command] : Object.values(COMMAND_USAGE).join('\n');
  return `Usage:\n${lines}\n  npm run cli -- help | --help | <command> --help\n\n${NOTES}`;
}

const OPTIONS = {
  tenant: { type: 'string' },
  key: { type: 'string' },
  table: { type: 'string' },
  queue: { type: 'string' },
  'queue-url': { type: 'string' },
  'dlq-url': { type: 'string' },
  region: { type: 'string' },
  local: { type: 'boolean' },
  max: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  file: { type: 'string' },
  id: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
  'idempotency-key': { type: 'string' },
  phones: { type: 'string' },
  name: { type: 'string' },
  role: { type: 'string' },
  'key-id': { type: 'string' },
  stack: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** A mistake in the command line: exit code 2, with the usage. */
class UsageError extends Error {
  readonly command: Command | undefined;
  constructor(message: string, command?: Command) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

async function main(argv: string[]): Promise<number> {
  let parsed: { positionals: string[]; values: Values };
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    return fail(new UsageError((error as Error).message));
  }
  const { positionals, values } = parsed;
  const [noun, verb, ...rest] = positionals;
  const command = noun === 'api-key' || noun === 'dlq' || noun === 'campaign' ? noun : undefined;
  if (noun === 'help' || (values.help && (noun === undefined || command))) {
    process.stdout.write(`${usage(command)}\n`);
    return 0;
  }
  try {
    if (noun === undefined) throw new UsageError('Give a command.');
    if (!command) throw new UsageError(`Unknown command: ${noun}`);
    if (rest.length > 0) throw new UsageError(`Unexpected argument: ${rest.join(' ')}`, command);
    if (command === 'campaign') return await campaignCommand(verb, values);
    return command === 'dlq' ? await dlq(verb, values) : await apiKey(verb, values);
  } catch (error) {
    if (error instanceof ApiKeyUsageError) return fail(new UsageError(error.message, 'api-key'));
    return fail(error instanceof CampaignUsageError ? new UsageError(error.message, 'campaign') : error);
  }
}

async function apiKey(verb: string | undefined, values: Values): Promise<number> {
  return apiKeyCommand(verb, values, {
    localTable() {
      const local = localEndpoints();
      const table = local.tables.main ?? '';
      if (!table || !local.dynamodbEndpoint)
        throw new Error(
          `${local.file} does not say where DynamoDB Local and the main table are: restart npm start`,
        );
      return { endpoint: local.dynamodbEndpoint, table };
    },
    awsRegion: (flag) => awsRegion(flag),
    explain: explainAwsError,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
}

/**
 * The region for AWS calls: --region, else AWS_REGION, AWS_DEFAULT_REGION (the AWS CLI's, which the
 * JavaScript SDK does not read), else what the SDK finds in the shared config for AWS_PROFILE, else
 * `fallback` (a queue URL names its region).
 */
async function awsRegion(flag: string | undefined, fallback?: string): Promise<string> {
  const direct = flag || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION;
  if (direct) return direct;
  const probe = new DynamoDBClient({});
  try {
    return await probe.config.region();
  } catch {
    if (fallback) return fallback;
    throw new UsageError(
      'No AWS region found. Give --region <region> (the one the stack was deployed to, e.g. --region eu-west-1), ' +
        'or set AWS_REGION (or AWS_DEFAULT_REGION), or set one in your AWS profile: aws configure set region <region>. ' +
        'For the local twin, use --local.',
    );
  } finally {
    probe.destroy();
  }
}

/** Errors an operator can act on, in words; anything else as it is. */
function explainAwsError(error: unknown, where: { table?: string; local: boolean }): unknown {
  const name = error instanceof Error ? error.name : '';
  const code = (error as { code?: string } | null)?.code;
  if (where.local && (code === 'ECONNREFUSED' || name === 'TimeoutError'))
    return new Error('The local twin did not answer: is npm start still running on this DATA_DIR?');
  if (name === 'ResourceNotFoundException' && where.table)
    return new Error(
      `Table ${where.table} was not found: check --table (the stack's MainTableName output) and the region (--region).`,
    );
  if (name === 'CredentialsProviderError')
    return new Error(
      'No usable AWS credentials: set AWS_PROFILE to a profile that has them (aws configure, aws sso login), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.',
    );
  return error;
}

/** What `npm start` writes to DATA_DIR/endpoints.json (the parts this CLI reads). */
interface LocalEndpoints {
  readonly file: string;
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly tables: Readonly<Record<string, string>>;
  readonly queues: Readonly<Record<string, { readonly url: string; readonly deadLetterUrl: string }>>;
}

interface Target {
  readonly queue: string;
  readonly url: string;
  readonly deadLetterUrl: string;
}

async function dlq(verb: string | undefined, values: Values): Promise<number> {
  if (verb !== 'status' && verb !== 'redrive')
    throw new UsageError(`Unknown command: dlq ${verb ?? ''}`.trim(), 'dlq');
  if (values.queue !== undefined && !QUEUES.includes(values.queue))
    throw new UsageError(`--queue must be one of ${QUEUES.join(', ')}`, 'dlq');
  let max: number | undefined;
  if (values.max !== undefined) {
    max = Number(values.max);
    if (!Number.isInteger(max) || max < 1) throw new UsageError('--max must be a whole number >= 1', 'dlq');
  }

  let client: SQSClient;
  let targets: Target[];
  if ([values.local, values.stack, values['queue-url'] || values['dlq-url']].filter(Boolean).length > 1)
    throw new UsageError('Use one of --local, --stack or --queue-url/--dlq-url', 'dlq');
  if (values.local) {
    if (values.region) throw new UsageError('Use either --local or --region', 'dlq');
    const endpoints = localEndpoints();
    const names = values.queue ? [values.queue] : verb === 'status' ? Object.keys(endpoints.queues) : [];
    if (names.length === 0) throw new UsageError('Missing --queue', 'dlq');
    targets = [];
    for (const queue of names) {
      const q = endpoints.queues[queue];
      if (!q?.url || !q.deadLetterUrl) throw new Error(`${endpoints.file} has no URLs for queue ${queue}`);
      targets.push({ queue, url: q.url, deadLetterUrl: q.deadLetterUrl });
    }
    client = new SQSClient({
      endpoint: endpoints.sqsEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
  } else if (values.stack) {
    const stackName = values.stack;
    const names = values.queue ? [values.queue] : verb === 'status' ? [...QUEUES] : [];
    if (names.length === 0) throw new UsageError('Missing --queue', 'dlq');
    const region = await awsRegion(values.region);
    const outputs = await stackOutputs(stackName, region);
    targets = names.map((queue) => ({
      queue,
      url: requiredOutput(outputs, queueUrlOutputs(queue).queue, { stackName, region }),
      deadLetterUrl: requiredOutput(outputs, queueUrlOutputs(queue).deadLetter, { stackName, region }),
    }));
    client = new SQSClient({ region });
  } else {
    const url = values['queue-url'];
    const deadLetterUrl = values['dlq-url'];
    if (!url || !deadLetterUrl)
      throw new UsageError(
        'Give --stack <stack name>, --queue-url and --dlq-url (the stack outputs), or --local',
        'dlq',
      );
    if (!values.queue) throw new UsageError('Missing --queue', 'dlq');
    targets = [{ queue: values.queue, url, deadLetterUrl }];
    // https://sqs.<region>.amazonaws.com/<account>/<name>: the URL names the queue's region.
    const urlRegion = /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\//.exec(url)?.[1];
    client = new SQSClient({ region: await awsRegion(values.region, urlRegion) });
  }

  try {
    if (verb === 'status') {
      const report = await Promise.all(
        targets.map(async (t) => {
          const [queue, deadLetter] = await Promise.all([
            queueDepth(client, t.url),
            queueDepth(client, t.deadLetterUrl),
          ]);
          return { queue: t.queue, url: t.url, deadLetterUrl: t.deadLetterUrl, depth: queue, deadLetter };
        }),
      );
      if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else
        for (const r of report)
          process.stdout.write(
            `${r.queue}: ${r.depth.visible} waiting, ${r.depth.delayed} delayed, ${r.depth.inFlight} in flight; ` +
              `dead letters: ${r.deadLetter.visible} waiting, ${r.deadLetter.inFlight} in flight\n` +
              `  queue        ${r.url}\n  dead letters ${r.deadLetterUrl}\n`,
          );
      return 0;
    }

    const [target] = targets as [Target];
    const result = await redriveDeadLetters(client, {
      deadLetterUrl: target.deadLetterUrl,
      targetUrl: target.url,
      ...(max !== undefined ? { max } : {}),
    });
    process.stdout.write(
      `Moved ${result.moved} message(s) from the ${target.queue} dead-letter queue back to ${target.url}.\n`,
    );
    if (result.failed > 0)
      process.stderr.write(
        `${result.failed} message(s) were refused by the queue and stay in the dead-letter queue.\n`,
      );
    if (result.notDeleted > 0)
      process.stderr.write(
        `${result.notDeleted} message(s) were copied but could not be deleted from the dead-letter queue ` +
          '(they are in both; the consumers are idempotent).\n',
      );
    return result.failed > 0 || result.notDeleted > 0 ? 1 : 0;
  } catch (error) {
    throw explainAwsError(error, { local: values.local === true });
  } finally {
    client.destroy();
  }
}

/** The running twin's endpoints; an error saying what to do when no twin runs on DATA_DIR. */
function localEndpoints(): LocalEndpoints {
  const dataDir = path.resolve(process.env.DATA_DIR || '.local');
  if (!runningTwin(dataDir))
    throw new Error(
      `No local twin is running on DATA_DIR ${dataDir}: start it (npm start, with the same DATA_DIR) and try again.`,
    );
  const file = path.join(dataDir, 'endpoints.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `No ${file} yet: the local twin is still starting; try again in a few seconds.`
        : `Cannot read ${file}: ${(error as Error).message}`,
    );
  }
  const e = parsed as Partial<LocalEndpoints> | null;
  if (!e || typeof e.sqsEndpoint !== 'string' || typeof e.queues !== 'object' || !e.queues)
    throw new Error(`${file} does not say where SQS and the queues are (sqsEndpoint, queues)`);
  return { tables: {}, dynamodbEndpoint: '', ...e, file } as LocalEndpoints;
}

/** Usage mistakes: the message and the usage on stderr, exit code 2. Anything else: `Failed: …`, 1. */
function fail(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${usage(error.command)}\n`);
    return 2;
  }
  process.stderr.write(`Failed: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(fail(error)),
);
