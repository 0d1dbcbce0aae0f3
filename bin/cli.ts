/**
 * Operator commands for a deployed stack (AWS credentials and region from the usual AWS
 * environment), e.g.
 *   npm run cli -- api-key create --tenant acme --table <MainTableName output>
 *   npm run cli -- api-key revoke --key wbk_… --table <MainTableName output>
 * Locally, LOCAL_API_KEYS seeds keys instead (README, "Configuration").
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeys } from '../functions/adapters/dynamo-api-keys.ts';
import { hashApiKey, newApiKey } from '../functions/core/api-keys.ts';

const USAGE = `Usage:
  npm run cli -- api-key create --tenant <tenant id> --table <table name>
  npm run cli -- api-key revoke --key <api key> --table <table name>
The table name is the stack's MainTableName output (or set TABLE_NAME).`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { tenant: { type: 'string' }, key: { type: 'string' }, table: { type: 'string' } },
  });
  const [noun, verb] = positionals;
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
