import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH } from '../../lib/table-grant-sets.ts';
import { type Topology, topology } from '../../lib/topology.ts';
import { type ApiTwin, startApiTwin } from '../support/api-twin.ts';

/**
 * The twin refuses what a function's topology does not grant, as IAM would on AWS: here the settings
 * function is declared to read its items only, so its PUT's write is refused by the SDK client with
 * AccessDeniedException, the request fails whole, and the twin's stop() names the call.
 */

const KEY = 'key-acme-grants-0123456789';

const readOnlySettings: Topology = {
  ...topology,
  functions: {
    ...topology.functions,
    settings: {
      ...topology.functions.settings,
      // What every admin route does (its key, rate window, audit), and reads of its settings: no write.
      uses: { tables: { main: [...ADMIN_AUTH, { actions: ['GetItem'], leadingKeys: ['SETTINGS#*'] }] } },
    },
  },
};

let api: ApiTwin;
const logDir = mkdtempSync(path.join(tmpdir(), 'grants-log-'));
const grantsLog = path.join(logDir, 'grants.jsonl');

beforeAll(async () => {
  api = await startApiTwin(
    { LOCAL_API_KEYS: `acme:${KEY}`, TWIN_GRANTS_LOG: grantsLog },
    { topology: readOnlySettings },
  );
}, 60_000);

afterAll(async () => {
  await api?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

describe('grants on the twin', () => {
  it('refuses an undeclared write like IAM: the request fails, nothing is written, the call is named', async () => {
    expect((await api.call('GET', '/v1/settings', { key: KEY })).status).toBe(200);
    expect(api.twin.grants.denied()).toEqual([]);

    const put = await api.call('PUT', '/v1/settings', {
      key: KEY,
      body: { requireConsentForMarketing: true },
    });
    expect(put.status).toBe(500);
    expect(put.body.error.code).toBe('INTERNAL');
    expect((await api.call('GET', '/v1/settings', { key: KEY })).body).toMatchObject({
      requireConsentForMarketing: false,
    });
    // TWIN_GRANTS_LOG: every permission each call needed, allowed or not, to write a function's grants from.
    const needed = readFileSync(grantsLog, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { function: string; action: string; keys?: string[] });
    expect(needed).toContainEqual(
      expect.objectContaining({ function: 'settings', action: 'dynamodb:GetItem', keys: ['SETTINGS#acme'] }),
    );
    expect(needed).toContainEqual(
      expect.objectContaining({
        function: 'settings',
        action: 'dynamodb:UpdateItem',
        keys: ['SETTINGS#acme'],
      }),
    );
    expect(api.twin.grants.denied()).toEqual([
      expect.objectContaining({
        function: 'settings',
        action: 'dynamodb:UpdateItem',
        message: expect.stringMatching(/is not authorized to perform: dynamodb:UpdateItem .*SETTINGS#acme/),
      }),
    ]);
  });

  it("fails the twin's stop while a refused call is left, so a test file cannot pass over one", async () => {
    await expect(api.twin.stop()).rejects.toThrow(/settings: dynamodb:UpdateItem on arn:aws:dynamodb:/);
    // Said once: the harness's own stop afterwards succeeds.
    await expect(api.twin.stop()).resolves.toBeUndefined();
  });
});
