import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueDepth } from '../functions/adapters/dead-letters.ts';
import { DynamoApiKeys } from '../functions/adapters/dynamo-api-keys.ts';
import { hashApiKey } from '../functions/core/api-keys.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { localConfigFromEnv } from '../lib/local/config.ts';
import { localSqsClient } from '../lib/local/sqs-local.ts';
import { type LocalTwin, REPO_ROOT, startLocalTwin } from '../lib/local/twin.ts';
import { queueUrlOutputs } from '../lib/output-names.ts';

let dataDir: string;
let twin: LocalTwin;
let keys: DynamoApiKeys;
let client: DynamoDBClient;
beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'cli-test-'));
  twin = await startLocalTwin(
    localConfigFromEnv({ DATA_DIR: dataDir, PORT: '0', TWILIO_SIMULATOR_PORT: '0' }),
    {
      log: () => {},
    },
  );
  client = new DynamoDBClient({
    endpoint: twin.dynamodbEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  keys = new DynamoApiKeys(DynamoDBDocumentClient.from(client), twin.tableNames.main as string);
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await twin?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** No AWS setting from the machine running the tests: each test gives the ones it means. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env))
    if (!/^AWS_/.test(name) && name !== 'TABLE_NAME' && name !== 'DATA_DIR') env[name] = value;
  const nowhere = path.join(dataDir, 'no-such-file');
  return { ...env, AWS_CONFIG_FILE: nowhere, AWS_SHARED_CREDENTIALS_FILE: nowhere };
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/node'), ['bin/cli.ts', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...cleanEnv(), ...env },
  });
}

/** Talks to the twin's DynamoDB Local the way the CLI talks to AWS: endpoint, credentials, region from the environment. */
const awsLike = {
  AWS_ENDPOINT_URL_DYNAMODB: '',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
};

// Each test spawns the CLI (a Node start of ~1 s, several under load).
describe('operator CLI: help', { timeout: 30_000 }, () => {
  it('npm run cli -- --help prints the usage and exits 0', () => {
    const help = spawnSync('npm', ['run', '--silent', 'cli', '--', '--help'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage:');
    expect(help.stdout).toContain('api-key create --tenant <tenant id>');
    expect(help.stdout).toContain('dlq redrive');
  });

  it('<command> --help and help print usage and exit 0', () => {
    const apiKey = cli(['api-key', '--help']);
    expect(apiKey.status).toBe(0);
    expect(apiKey.stdout).toContain('api-key revoke --key <api key>');
    expect(apiKey.stdout).not.toContain('dlq redrive');
    const dlq = cli(['dlq', 'status', '-h']);
    expect(dlq.status).toBe(0);
    expect(dlq.stdout).toContain('dlq status');
    expect(dlq.stdout).toContain('<queue>: send|fanOut|callbackRetries|groupCleanup|erasures|imports');
    expect(cli(['help']).stdout).toContain('Usage:');
  });

  it('an unknown command, an unknown option or no command prints the usage and exits 2', () => {
    for (const args of [
      ['keys', 'create'],
      ['api-key', 'rotate'],
      ['api-key', 'create', '--tenant', 'x', '--nope'],
      // Its messages are reports of stream batches given up on, not work to put back.
      ['dlq', 'redrive', '--queue', 'countFailures', '--local'],
      [],
    ]) {
      const run = cli(args);
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toContain('Usage:');
      expect(run.stdout).toBe('');
    }
  });
});

// The CLI runs beside the twin this process serves: never spawnSync here. A blocked event loop let the
// API server's keep-alive timeout and the next fetch on that connection race (ECONNRESET, once in CI).
describe('operator CLI: api-key --local (the running twin)', { timeout: 30_000 }, () => {
  it("creates a key in the twin's DynamoDB Local that authenticates on its API, and revokes it", async () => {
    const created = await cliAsync(['api-key', 'create', '--tenant', 'acme', '--local'], {
      DATA_DIR: dataDir,
    });
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim().split('\n').at(-1) ?? '';
    expect(key).toMatch(/^wbk_[A-Za-z0-9_-]{43}$/);
    expect((await keys.identify(hashApiKey(key)))?.tenantId).toBe('acme');
    const res = await fetch(`${twin.apiUrl}/v1/broadcasts`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);

    const revoked = await cliAsync(['api-key', 'revoke', '--key', key, '--local'], { DATA_DIR: dataDir });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await keys.identify(hashApiKey(key)))?.tenantId).toBeUndefined();
    // A key never created: nothing to revoke, a failure like any other.
    const again = await cliAsync(['api-key', 'revoke', '--key', `wbk_${'x'.repeat(43)}`, '--local'], {
      DATA_DIR: dataDir,
    });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('Failed: no such key');
  });

  it('creates a named key with a role, lists it without its secret, and revokes it by key id', async () => {
    const created = await cliAsync(
      ['api-key', 'create', '--tenant', 'ops', '--name', 'Billing export', '--role', 'viewer', '--local'],
      { DATA_DIR: dataDir },
    );
    expect(created.code, created.stderr).toBe(0);
    const keyId = /\b(key_[0-9A-Z]{26})\b/.exec(created.stdout)?.[1] ?? '';
    expect(created.stdout).toContain("(viewer, 'Billing export') for tenant 'ops'");
    const key = created.stdout.trim().split('\n').at(-1) ?? '';
    const auth = { authorization: `Bearer ${key}` };
    expect((await fetch(`${twin.apiUrl}/v1/broadcasts`, { headers: auth })).status).toBe(200);
    const write = await fetch(`${twin.apiUrl}/v1/broadcasts/brd_01JD0000000000000000000000/cancel`, {
      method: 'POST',
      headers: auth,
    });
    expect(write.status).toBe(403);

    const list = await cliAsync(['api-key', 'list', '--tenant', 'ops', '--json', '--local'], {
      DATA_DIR: dataDir,
    });
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([
      {
        keyId,
        name: 'Billing export',
        role: 'viewer',
        createdAt: expect.any(String),
        lastUsedAt: expect.any(String),
      },
    ]);
    expect(list.stdout).not.toContain(key);

    const revoked = await cliAsync(['api-key', 'revoke', '--tenant', 'ops', '--key-id', keyId, '--local'], {
      DATA_DIR: dataDir,
    });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await keys.identify(hashApiKey(key))).toBeUndefined();
    const unknown = await cliAsync(['api-key', 'revoke', '--tenant', 'other', '--key-id', keyId, '--local'], {
      DATA_DIR: dataDir,
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`tenant 'other' has no key ${keyId}`);
    const badRole = await cliAsync(['api-key', 'create', '--tenant', 'ops', '--role', 'root', '--local'], {
      DATA_DIR: dataDir,
    });
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('--role must be one of viewer, sender, admin');
  });

  it('says so when no twin runs on DATA_DIR', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'cli-no-twin-'));
    try {
      const run = await cliAsync(['api-key', 'create', '--tenant', 'acme', '--local'], { DATA_DIR: other });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`No local twin is running on DATA_DIR ${other}`);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

/**
 * CloudFormation's DescribeStacks (its query protocol, XML), answered for one stack only
 * (`WhatsAppBroadcast`, with these outputs); any other name is CloudFormation's ValidationError.
 */
async function fakeCloudFormation(outputs: Record<string, string>) {
  const members = Object.entries(outputs)
    .map(([k, v]) => `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`)
    .join('');
  const cloudFormation = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      res.setHeader('content-type', 'text/xml');
      if (form.get('Action') === 'DescribeStacks' && form.get('StackName') === 'WhatsAppBroadcast') {
        res.end(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>WhatsAppBroadcast</StackName><StackId>arn:aws:cloudformation:us-east-1:000000000000:stack/WhatsAppBroadcast/1</StackId><CreationTime>2026-11-30T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
        return;
      }
      res.statusCode = 400;
      res.end(
        '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id Nope does not exist</Message></Error><RequestId>r2</RequestId></ErrorResponse>',
      );
    });
  });
  await new Promise<void>((resolve) => cloudFormation.listen(0, '127.0.0.1', resolve));
  return { cloudFormation, port: (cloudFormation.address() as AddressInfo).port };
}

describe('operator CLI: api-key on AWS', { timeout: 30_000 }, () => {
  const table = () => twin.tableNames.main as string;
  const endpoint = () => ({ ...awsLike, AWS_ENDPOINT_URL_DYNAMODB: twin.dynamodbEndpoint });

  it('creates a key that authenticates (stored hashed) and revokes it, the region from --region', async () => {
    const created = cli(
      ['api-key', 'create', '--tenant', 'acme', '--table', table(), '--region', 'us-east-1'],
      endpoint(),
    );
    expect(created.status, created.stderr).toBe(0);
    const key = created.stdout.trim().split('\n').at(-1) ?? '';
    expect((await keys.identify(hashApiKey(key)))?.tenantId).toBe('acme');
    const revoked = cli(
      ['api-key', 'revoke', '--key', key, '--table', table(), '--region', 'us-east-1'],
      endpoint(),
    );
    expect(revoked.status, revoked.stderr).toBe(0);
    expect((await keys.identify(hashApiKey(key)))?.tenantId).toBeUndefined();
  });

  it("takes the region from AWS_DEFAULT_REGION (the AWS CLI's) or the AWS profile's config", async () => {
    const fromDefault = cli(['api-key', 'create', '--tenant', 'acme', '--table', table()], {
      ...endpoint(),
      AWS_DEFAULT_REGION: 'us-east-1',
    });
    expect(fromDefault.status, fromDefault.stderr).toBe(0);

    const config = path.join(dataDir, 'aws-config');
    writeFileSync(
      config,
      '[profile ops]\nregion = us-east-1\naws_access_key_id = local\naws_secret_access_key = local\n',
    );
    const fromProfile = cli(['api-key', 'create', '--tenant', 'acme', '--table', table()], {
      AWS_ENDPOINT_URL_DYNAMODB: twin.dynamodbEndpoint,
      AWS_CONFIG_FILE: config,
      AWS_PROFILE: 'ops',
    });
    expect(fromProfile.status, fromProfile.stderr).toBe(0);
  });

  it('without any region, says which settings give one (never "Region is missing")', () => {
    const run = cli(['api-key', 'create', '--tenant', 'acme', '--table', table()], endpoint());
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('No AWS region found. Give --region <region>');
    expect(run.stderr).toContain('AWS_REGION (or AWS_DEFAULT_REGION)');
    expect(run.stderr).toContain('aws configure set region');
    expect(run.stderr).not.toContain('Region is missing');
    expect(run.stdout).toBe('');
  });

  it("finds the table from the stack's MainTableName output (--stack), and says when there is no such stack", async () => {
    const { cloudFormation, port } = await fakeCloudFormation({ MainTableName: table() });
    const env = { ...endpoint(), AWS_ENDPOINT_URL_CLOUDFORMATION: `http://127.0.0.1:${port}` };
    try {
      const created = await cliAsync(
        [
          'api-key',
          'create',
          '--tenant',
          'stacked',
          '--name',
          'First admin',
          '--stack',
          'WhatsAppBroadcast',
          '--region',
          'us-east-1',
        ],
        env,
      );
      expect(created.code, created.stderr).toBe(0);
      const key = created.stdout.trim().split('\n').at(-1) ?? '';
      expect(await keys.identify(hashApiKey(key))).toMatchObject({ tenantId: 'stacked', role: 'admin' });
      const missing = await cliAsync(
        ['api-key', 'list', '--tenant', 'stacked', '--stack', 'Nope', '--region', 'us-east-1'],
        env,
      );
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('No stack named Nope in us-east-1');
    } finally {
      cloudFormation.close();
    }
  });

  it('refuses a bad tenant id and explains the usage', () => {
    const bad = cli(['api-key', 'create', '--tenant', 'no spaces', '--table', table()], endpoint());
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--tenant must be');
    expect(bad.stderr).toContain('Usage:');
  });
});

/** The CLI as a child process, without blocking this process (it serves the twin's API the CLI calls). */
function cliAsync(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(REPO_ROOT, 'node_modules/.bin/node'),
      ['bin/cli.ts', ...args],
      { cwd: REPO_ROOT, encoding: 'utf8', env: { ...cleanEnv(), ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('operator CLI: dlq on AWS', { timeout: 30_000 }, () => {
  it("finds every queue from the stack's outputs (--stack): status lists them all, redrive puts dead letters back", async () => {
    const outputs: Record<string, string> = {};
    for (const [id, q] of Object.entries(twin.queues)) {
      outputs[queueUrlOutputs(id).queue] = q.main.url;
      outputs[queueUrlOutputs(id).deadLetter] = q.deadLetter.url;
    }
    const { cloudFormation, port } = await fakeCloudFormation(outputs);
    const env = {
      AWS_ENDPOINT_URL_CLOUDFORMATION: `http://127.0.0.1:${port}`,
      AWS_ENDPOINT_URL_SQS: twin.sqsEndpoint,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    };
    const sqs = localSqsClient(twin.sqsEndpoint);
    try {
      // A dead letter of the erasures queue (a task whose erasure record is gone: the worker drops it).
      const parked = twin.queues.erasures?.deadLetter.url ?? '';
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: parked,
          MessageBody: '{"tenantId":"t","erasureId":"era_gone","phone":"+972500000000"}',
        }),
      );
      const status = await cliAsync(
        ['dlq', 'status', '--stack', 'WhatsAppBroadcast', '--region', 'us-east-1'],
        env,
      );
      expect(status.code, status.stderr).toBe(0);
      for (const queue of ['send', 'fanOut', 'callbackRetries', 'groupCleanup', 'erasures', 'imports'])
        expect(status.stdout).toContain(`${queue}: `);
      expect(status.stdout).toMatch(/erasures: .*dead letters: 1 waiting/);

      const redrive = await cliAsync(
        ['dlq', 'redrive', '--queue', 'erasures', '--stack', 'WhatsAppBroadcast', '--region', 'us-east-1'],
        env,
      );
      expect(redrive.code, redrive.stderr).toBe(0);
      expect(redrive.stdout).toContain('Moved 1 message(s) from the erasures dead-letter queue');
      expect((await queueDepth(sqs, parked)).visible).toBe(0);

      const both = await cliAsync(
        [
          'dlq',
          'status',
          '--stack',
          'WhatsAppBroadcast',
          '--queue-url',
          'https://x',
          '--dlq-url',
          'https://y',
        ],
        env,
      );
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('Use one of --local, --stack or --queue-url/--dlq-url');
      const missing = await cliAsync(['dlq', 'status', '--stack', 'Nope', '--region', 'us-east-1'], env);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('No stack named Nope in us-east-1');
    } finally {
      sqs.destroy();
      cloudFormation.close();
    }
  });
});

describe('operator CLI: campaign (the API)', { timeout: 30_000 }, () => {
  it('creates a weekly Nairobi campaign from a file, pauses, reads and deletes it; errors say what the API said', async () => {
    const key = 'cli-campaign-key-0123456789abcdef';
    await keys.seed('acme-cli', hashApiKey(key), new Date());
    const auth = ['--api-url', twin.apiUrl, '--api-key', key];
    const file = path.join(dataDir, 'weekly.json');
    const campaign = {
      name: 'Weekly market prices',
      audience: { phones: ['+254712345601'] },
      template: {
        contentSid: 'HX880b0d228b6b512bae0f14a67c858ce4',
        variables: { '1': 'farmer', '2': 'Monday' },
      },
      schedule: { expression: 'cron(0 9 ? * MON *)', timeZone: 'Africa/Nairobi' },
    };
    writeFileSync(file, JSON.stringify(campaign));
    const created = await cliAsync(['campaign', 'create', '--file', file, ...auth]);
    expect(created.code, created.stderr).toBe(0);
    const body = JSON.parse(created.stdout);
    expect(body).toMatchObject({ campaignId: expect.stringMatching(/^cmp_/), status: 'active', runs: [] });
    expect(new Date(body.nextRunAt).getUTCHours()).toBe(6);

    const paused = await cliAsync(['campaign', 'pause', '--id', body.campaignId, ...auth]);
    expect(JSON.parse(paused.stdout)).toMatchObject({ status: 'paused', nextRuns: [] });
    const tested = await cliAsync([
      'campaign',
      'test-send',
      '--id',
      body.campaignId,
      '--phones',
      '+254712345699',
      ...auth,
    ]);
    expect(tested.code, tested.stderr).toBe(0);
    expect(JSON.parse(tested.stdout)).toMatchObject({
      test: true,
      campaignId: body.campaignId,
      testPhones: [{ phone: '+254712345699' }],
    });
    const noPhones = await cliAsync(['campaign', 'test-send', '--id', body.campaignId, ...auth]);
    expect(noPhones.code).toBe(2);
    expect(noPhones.stderr).toContain('--phones');
    const listed = await cliAsync(['campaign', 'list', '--limit', '10', ...auth]);
    expect(JSON.parse(listed.stdout).items.map((c: { campaignId: string }) => c.campaignId)).toEqual([
      body.campaignId,
    ]);
    expect((await cliAsync(['campaign', 'delete', '--id', body.campaignId, ...auth])).stdout).toBe(
      'Deleted.\n',
    );
    const gone = await cliAsync(['campaign', 'get', '--id', body.campaignId, ...auth]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('Failed: 404 NOT_FOUND');

    writeFileSync(file, JSON.stringify({ ...campaign, schedule: { expression: 'cron(0 9 ? * 0 *)' } }));
    const bad = await cliAsync(['campaign', 'create', '--file', file, ...auth]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('400 VALIDATION_FAILED');
    expect(bad.stderr).toContain('schedule.expression: the day-of-week field');
    const noKey = await cliAsync(['campaign', 'list', '--api-url', twin.apiUrl]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('Give the API key');
  }, 60_000);
});
