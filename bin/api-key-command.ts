import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeys } from '../functions/adapters/dynamo-api-keys.ts';
import { hashApiKey, isKeyId, newApiKey, newKeyId } from '../functions/core/api-keys.ts';
import { isRole, ROLES } from '../functions/core/roles.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { requiredOutput, stackOutputs } from './stack-outputs.ts';

/**
 * `npm run cli -- api-key …`: tenant API keys straight in the table (no API key needed: this is how
 * the first admin key of a tenant is made on AWS). The table is the running twin's (--local), the
 * stack's (--stack <name>: its MainTableName output, read with CloudFormation DescribeStacks), or
 * named (--table, or TABLE_NAME).
 */

const TARGET = '(--stack <stack name> | --table <table name>) [--region <region>] | --local';
export const API_KEY_USAGE = `  npm run cli -- api-key create --tenant <tenant id> [--name <name>] [--role ${ROLES.join('|')}] ${TARGET}
  npm run cli -- api-key list   --tenant <tenant id> [--json]                         ${TARGET}
  npm run cli -- api-key revoke --tenant <tenant id> --key-id <key_…>                  ${TARGET}
  npm run cli -- api-key revoke --key <api key>                                        ${TARGET}`;

export const API_KEY_NOTES = `api-key: create prints the new key once (only its SHA-256 is stored); the role defaults to admin.
revoke --key-id refuses the tenant's last active admin key (make another first); revoke --key revokes
that secret whatever it is (the operator's way out). A revoked key is refused within 2 seconds.`;

export interface ApiKeyOptions {
  readonly tenant?: string | undefined;
  readonly name?: string | undefined;
  readonly role?: string | undefined;
  readonly key?: string | undefined;
  readonly 'key-id'?: string | undefined;
  readonly stack?: string | undefined;
  readonly table?: string | undefined;
  readonly region?: string | undefined;
  readonly local?: boolean | undefined;
  readonly json?: boolean | undefined;
}

/** A mistake in the command line (the caller prints the usage, exit code 2). */
export class ApiKeyUsageError extends Error {}

/** What the CLI knows how to do, handed in (it owns them for its other commands too). */
export interface ApiKeyEnvironment {
  localTable(): { endpoint: string; table: string };
  awsRegion(flag: string | undefined): Promise<string>;
  explain(error: unknown, where: { table?: string; local: boolean }): unknown;
  out(text: string): void;
  err(text: string): void;
}

const TENANT = /^[A-Za-z0-9_-]{1,64}$/;

export async function apiKeyCommand(
  verb: string | undefined,
  options: ApiKeyOptions,
  env: ApiKeyEnvironment,
): Promise<number> {
  if (verb !== 'create' && verb !== 'revoke' && verb !== 'list')
    throw new ApiKeyUsageError(`Unknown command: api-key ${verb ?? ''}`.trim());
  // Checked before anything is contacted: a rejected command writes nothing.
  const needsTenant = verb !== 'revoke' || options.key === undefined;
  if (needsTenant && (!options.tenant || !TENANT.test(options.tenant)))
    throw new ApiKeyUsageError('--tenant must be 1-64 letters, digits, - or _');
  if (verb === 'revoke' && !options.key && !options['key-id'])
    throw new ApiKeyUsageError('Give --key-id <key_…> (with --tenant) or --key <api key>');
  if (options['key-id'] !== undefined && !isKeyId(options['key-id']))
    throw new ApiKeyUsageError('--key-id must be a key id (key_…), as api-key list shows it');
  const role = options.role ?? 'admin';
  if (!isRole(role)) throw new ApiKeyUsageError(`--role must be one of ${ROLES.join(', ')}`);
  const name = (options.name ?? 'made with the CLI').trim();
  if (!name || name.length > 100) throw new ApiKeyUsageError('--name must be 1-100 characters');

  const targets = [options.local, options.stack, options.table].filter(Boolean).length;
  if (targets > 1) throw new ApiKeyUsageError('Use one of --local, --stack or --table');
  if (options.local && options.region) throw new ApiKeyUsageError('Use either --local or --region');

  let client: DynamoDBClient;
  let table: string;
  if (options.local) {
    const local = env.localTable();
    table = local.table;
    client = new DynamoDBClient({
      endpoint: local.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
  } else {
    const region = await env.awsRegion(options.region);
    if (options.stack) table = await stackTable(options.stack, region);
    else table = options.table ?? process.env.TABLE_NAME ?? '';
    if (!table)
      throw new ApiKeyUsageError(
        'Give --stack <stack name> (the table is read from its outputs), --table <table name> (the MainTableName output; or set TABLE_NAME), or --local for the local twin',
      );
    client = new DynamoDBClient({ region });
  }

  const keys = new DynamoApiKeys(DynamoDBDocumentClient.from(client), table);
  const now = new Date();
  try {
    if (verb === 'create') {
      const tenant = options.tenant as string;
      const apiKey = newApiKey();
      const view = await keys.create(
        { tenantId: tenant, keyId: newKeyId(), name, role },
        hashApiKey(apiKey),
        now,
      );
      env.out(
        `API key ${view.keyId} (${view.role}, '${view.name}') for tenant '${tenant}' (shown once; only its hash is stored):\n${apiKey}\n`,
      );
      return 0;
    }
    if (verb === 'list') {
      const items = [];
      let cursor: string | undefined;
      do {
        const page = await keys.list(options.tenant as string, { limit: 500, ...(cursor ? { cursor } : {}) });
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      if (options.json) env.out(`${JSON.stringify(items, null, 2)}\n`);
      else if (items.length === 0) env.out(`No API keys for tenant '${options.tenant}'.\n`);
      else
        for (const k of items)
          env.out(
            `${k.keyId}  ${k.role.padEnd(6)}  ${k.revokedAt ? `revoked ${k.revokedAt}` : 'active'}  created ${k.createdAt}${k.lastUsedAt ? `  last used ${k.lastUsedAt}` : ''}  ${k.name}\n`,
          );
      return 0;
    }
    if (options['key-id']) {
      const outcome = await keys.revoke(options.tenant as string, options['key-id'], now);
      if (outcome === 'not_found') {
        env.err(`Failed: tenant '${options.tenant}' has no key ${options['key-id']} (see api-key list).\n`);
        return 1;
      }
      if (outcome === 'last_admin') {
        env.err(
          `Failed: ${options['key-id']} is the last active admin key of tenant '${options.tenant}'; create another admin key first (or revoke it by --key).\n`,
        );
        return 1;
      }
      env.out(`${outcome === 'revoked' ? 'Revoked' : 'Already revoked'}: refused everywhere within 2 s.\n`);
      return 0;
    }
    const revoked = await keys.revokeByHash(hashApiKey(options.key as string), now);
    if (!revoked) {
      env.err('Failed: no such key in this table (check --key, and --stack, --table or DATA_DIR).\n');
      return 1;
    }
    env.out('Revoked: refused everywhere within 2 s.\n');
    return 0;
  } catch (error) {
    throw env.explain(error, { table, local: options.local === true });
  } finally {
    client.destroy();
  }
}

/** The stack's main table name: its `MainTableName` output (lib/stack.ts). */
async function stackTable(stackName: string, region: string): Promise<string> {
  return requiredOutput(await stackOutputs(stackName, region), 'MainTableName', { stackName, region });
}
