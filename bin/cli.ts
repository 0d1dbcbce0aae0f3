/**
 * Operator commands for a deployed stack (AWS credentials and region from the usual AWS
 * environment), e.g.
 *   npm run cli -- api-key create --tenant acme --table <MainTableName output>
 *   npm run cli -- api-key revoke --key wbk_… --table <MainTableName output>
 *   npm run cli -- dlq status --queue send --queue-url <queue URL> --dlq-url <dead-letter queue URL>
 *   npm run cli -- dlq redrive --queue send --local
 * Locally, LOCAL_API_KEYS seeds keys instead (README, "Configuration"), and `--local` finds the
 * queues in DATA_DIR/endpoints.json, which `npm start` writes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queueDepth, redriveDeadLetters } from '../functions/adapters/dead-letters.ts';
import { DynamoApiKeys } from '../functions/adapters/dynamo-api-keys.ts';
import { hashApiKey, newApiKey } from '../functions/core/api-keys.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';

const QUEUES = ['send', 'fanOut'] as const;
type QueueName = (typeof QUEUES)[number];

const USAGE = `Usage:
  npm run cli -- api-key create --tenant <tenant id> --table <table name>
  npm run cli -- api-key revoke --key <api key> --table <table name>
  npm run cli -- dlq status  --queue send|fanOut (--queue-url <url> --dlq-url <url> | --local) [--json]
  npm run cli -- dlq redrive --queue send|fanOut (--queue-url <url> --dlq-url <url> | --local) [--max <n>]
The table name is the stack's MainTableName output (or set TABLE_NAME). On AWS the queue URLs are the
stack's outputs for the queue and its dead-letter queue; with --local they are read from
$DATA_DIR/endpoints.json (DATA_DIR defaults to .local), written by \`npm start\`.
\`dlq status --local\` without --queue shows every queue.`;

const OPTIONS = {
  tenant: { type: 'string' },
  key: { type: 'string' },
  table: { type: 'string' },
  queue: { type: 'string' },
  'queue-url': { type: 'string' },
  'dlq-url': { type: 'string' },
  local: { type: 'boolean' },
  max: { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [noun, verb] = positionals;
  if (noun === 'dlq') return dlq(verb, values);
  const table = values.table ?? process.env.TABLE_NAME;
  if (noun !== 'api-key' || !table)
    return fail(table ? `Unknown command: ${positionals.join(' ')}` : 'Missing --table');
  const client = new DynamoDBClient({});
  const keys = new DynamoApiKeys(DynamoDBDocumentClient.from(client), table);
  try {
    if (verb === 'create') {
      if (!values.tenant || !/^[A-Za-z0-9_-]{1,64}$/.test(values.tenant))
        return fail('--tenant must be 1-64 letters, digits, - or _');
      const key = newApiKey();
      await keys.putKey(values.tenant, hashApiKey(key), new Date());
      process.stdout.write(
        `API key for tenant '${values.tenant}' (shown once; only its hash is stored):\n${key}\n`,
      );
      return 0;
    }
    if (verb === 'revoke') {
      if (!values.key) return fail('Missing --key');
      const revoked = await keys.revokeKey(hashApiKey(values.key), new Date());
      process.stdout.write(
        revoked ? 'Revoked (warm Lambdas may honour it for up to 60 s).\n' : 'No such key.\n',
      );
      return revoked ? 0 : 1;
    }
    return fail(`Unknown command: ${positionals.join(' ')}`);
  } finally {
    client.destroy();
  }
}

/** What `npm start` writes to DATA_DIR/endpoints.json (the parts this CLI reads). */
interface LocalEndpoints {
  readonly sqsEndpoint: string;
  readonly queues: Readonly<Record<string, { readonly url: string; readonly deadLetterUrl: string }>>;
}

interface Target {
  readonly queue: string;
  readonly url: string;
  readonly deadLetterUrl: string;
}

async function dlq(verb: string | undefined, values: Values): Promise<number> {
  if (verb !== 'status' && verb !== 'redrive') return fail(`Unknown command: dlq ${verb ?? ''}`.trim());
  if (values.queue !== undefined && !QUEUES.includes(values.queue as QueueName))
    return fail(`--queue must be one of ${QUEUES.join(', ')}`);
  let max: number | undefined;
  if (values.max !== undefined) {
    max = Number(values.max);
    if (!Number.isInteger(max) || max < 1) return fail('--max must be a whole number >= 1');
  }

  let client: SQSClient;
  let targets: Target[];
  if (values.local) {
    if (values['queue-url'] || values['dlq-url']) return fail('Use either --local or --queue-url/--dlq-url');
    const file = path.resolve(process.env.DATA_DIR || '.local', 'endpoints.json');
    const endpoints = readLocalEndpoints(file);
    if (typeof endpoints === 'string') return fail(endpoints);
    const names = values.queue ? [values.queue] : verb === 'status' ? Object.keys(endpoints.queues) : [];
    if (names.length === 0) return fail('Missing --queue');
    targets = [];
    for (const queue of names) {
      const q = endpoints.queues[queue];
      if (!q?.url || !q.deadLetterUrl) return fail(`${file} has no URLs for queue ${queue}`);
      targets.push({ queue, url: q.url, deadLetterUrl: q.deadLetterUrl });
    }
    client = new SQSClient({
      endpoint: endpoints.sqsEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
  } else {
    const url = values['queue-url'];
    const deadLetterUrl = values['dlq-url'];
    if (!url || !deadLetterUrl) return fail('Give --queue-url and --dlq-url (the stack outputs), or --local');
    if (!values.queue) return fail('Missing --queue');
    targets = [{ queue: values.queue, url, deadLetterUrl }];
    client = new SQSClient({});
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
            `${r.queue}: ${r.depth.visible} waiting, ${r.depth.inFlight} in flight; ` +
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
  } finally {
    client.destroy();
  }
}

function readLocalEndpoints(file: string): LocalEndpoints | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `No ${file}: is the local twin running (npm start)? Set DATA_DIR if it uses another directory.`
      : `Cannot read ${file}: ${(error as Error).message}`;
  }
  const e = parsed as Partial<LocalEndpoints> | null;
  if (!e || typeof e.sqsEndpoint !== 'string' || typeof e.queues !== 'object' || !e.queues)
    return `${file} does not say where SQS and the queues are (sqsEndpoint, queues)`;
  return e as LocalEndpoints;
}

function fail(message: string): number {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`Failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
