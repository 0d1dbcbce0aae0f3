import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoApiKeys } from '../functions/adapters/dynamo-api-keys.ts';
import { hashApiKey } from '../functions/core/api-keys.ts';
import { REPO_ROOT } from '../lib/local/twin.ts';
import { startTestDynamoDb } from './support/dynamodb.ts';

let db: Awaited<ReturnType<typeof startTestDynamoDb>>;
beforeAll(async () => {
  db = await startTestDynamoDb();
}, 60_000);
afterAll(async () => {
  await db?.stop();
});

function cli(...args: string[]) {
  return spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/node'), ['bin/cli.ts', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    },
  });
}

describe('operator CLI', () => {
  it('creates a tenant API key that authenticates, stores only its hash, and revokes it', async () => {
    const created = cli('api-key', 'create', '--tenant', 'acme', '--table', db.tableName);
    expect(created.status).toBe(0);
    const key = created.stdout.trim().split('\n').at(-1) ?? '';
    expect(key).toMatch(/^wbk_[A-Za-z0-9_-]{43}$/);
    const keys = new DynamoApiKeys(db.doc, db.tableName);
    expect(await keys.tenantOf(hashApiKey(key))).toBe('acme');

    expect(cli('api-key', 'revoke', '--key', key, '--table', db.tableName).status).toBe(0);
    expect(await keys.tenantOf(hashApiKey(key))).toBeUndefined();
  });

  it('refuses a bad tenant id and explains the usage', () => {
    const bad = cli('api-key', 'create', '--tenant', 'no spaces', '--table', db.tableName);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--tenant must be');
    expect(bad.stderr).toContain('Usage:');
  });
});
