import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derivedKeyId, hashApiKey } from '../../functions/core/api-keys.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { seedApiKeys } from '../../lib/local/seed-keys.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

/**
 * Issue 15 part 5 and the per-tenant half of part 6, through the twin's HTTP API: API keys with
 * roles, revocation within 5 s, rotation, the last admin key, the audit log, the per-tenant rate
 * limit. One twin; each test uses its own tenants (the rate limit counts per tenant).
 */

const KEYS = {
  acme: 'key-acme-access-0123456789',
  beta: 'key-beta-access-0123456789',
  revoke: 'key-revoke-access-0123456789',
  rotate: 'key-rotate-access-0123456789',
  duel: 'key-duel-access-0123456789',
  audit: 'key-audit-access-0123456789',
  burst: 'key-burst-access-0123456789',
  quiet: 'key-quiet-access-0123456789',
};
const RATE_LIMIT = 20;
const BROADCAST = 'brd_01JD0000000000000000000000';

let api: ApiTwin;
let client: DynamoDBClient;
let db: DynamoDBDocumentClient;

beforeAll(async () => {
  api = await startApiTwin({
    LOCAL_API_KEYS: Object.entries(KEYS)
      .map(([tenant, key]) => `${tenant}:${key}`)
      .join(','),
    TENANT_RATE_LIMIT: String(RATE_LIMIT),
  });
  client = new DynamoDBClient({
    endpoint: api.twin.dynamodbEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  db = DynamoDBDocumentClient.from(client);
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await api?.stop();
});

async function createKey(admin: string, name: string, role: string): Promise<Json> {
  const res = await api.call('POST', '/v1/api-keys', { key: admin, body: { name, role } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

describe('API keys and roles', { timeout: 30_000 }, () => {
  it('an admin creates keys (secret shown once), lists them without secrets; a viewer reads but cannot write', async () => {
    const viewer = await createKey(KEYS.acme, 'Dashboard', 'viewer');
    expect(viewer).toEqual({
      keyId: expect.stringMatching(/^key_[0-9A-Z]{26}$/),
      name: 'Dashboard',
      role: 'viewer',
      apiKey: expect.stringMatching(/^wbk_/),
      createdAt: expect.any(String),
    });
    const list = await api.call('GET', '/v1/api-keys', { key: KEYS.acme });
    expect(list.status).toBe(200);
    const listed = list.body.items.find((k: Json) => k.keyId === viewer.keyId);
    expect(listed).toMatchObject({
      name: 'Dashboard',
      role: 'viewer',
      createdBy: derivedKeyId(hashApiKey(KEYS.acme)),
    });
    expect(JSON.stringify(list.body)).not.toContain(viewer.apiKey);
    expect(JSON.stringify(list.body)).not.toContain(hashApiKey(viewer.apiKey));
    // The seeded admin key is listed too, as an admin.
    expect(list.body.items).toContainEqual(
      expect.objectContaining({ keyId: derivedKeyId(hashApiKey(KEYS.acme)), role: 'admin' }),
    );

    expect((await api.call('GET', '/v1/broadcasts', { key: viewer.apiKey })).status).toBe(200);
    for (const [method, route, body] of [
      [
        'POST',
        '/v1/broadcasts',
        { name: 'x', template: { contentSid: `HX${'0'.repeat(32)}` }, recipients: [testPhone()] },
      ],
      ['POST', `/v1/broadcasts/${BROADCAST}/cancel`, undefined],
      ['POST', '/v1/api-keys', { name: 'sneaky', role: 'admin' }],
      ['GET', '/v1/audit', undefined],
    ] as const) {
      const res = await api.call(method, route, { key: viewer.apiKey, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${route}`).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('viewer') });
    }
    // Nothing was written: no broadcast, no key.
    expect((await api.call('GET', '/v1/broadcasts', { key: KEYS.acme })).body.items).toEqual([]);
    const after = await api.call('GET', '/v1/api-keys', { key: KEYS.acme });
    expect(after.body.items.map((k: Json) => k.name)).not.toContain('sneaky');

    // A sender may cancel (here: 404, an unknown broadcast, past the role check) but not manage keys.
    const sender = await createKey(KEYS.acme, 'Campaign tool', 'sender');
    expect(
      (await api.call('POST', `/v1/broadcasts/${BROADCAST}/cancel`, { key: sender.apiKey })).status,
    ).toBe(404);
    expect((await api.call('GET', '/v1/api-keys', { key: sender.apiKey })).status).toBe(403);
  });

  it("refuses a bad body, and another tenant's key id is a 404", async () => {
    const bad = await api.call('POST', '/v1/api-keys', { key: KEYS.acme, body: { name: '', role: 'root' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: Json) => d.path).sort()).toEqual(['name', 'role']);
    const acmeKey = await createKey(KEYS.acme, 'Other tenant target', 'viewer');
    expect((await api.call('DELETE', `/v1/api-keys/${acmeKey.keyId}`, { key: KEYS.beta })).status).toBe(404);
    expect((await api.call('POST', `/v1/api-keys/${acmeKey.keyId}/rotate`, { key: KEYS.beta })).status).toBe(
      404,
    );
    const betaList = await api.call('GET', '/v1/api-keys', { key: KEYS.beta });
    expect(betaList.body.items.map((k: Json) => k.keyId)).not.toContain(acmeKey.keyId);
    expect((await api.call('GET', '/v1/broadcasts', { key: acmeKey.apiKey })).status).toBe(200);
  });

  it('a revoked key is refused (401) within 5 s on warm containers, for create, cancel and retry', async () => {
    const sender = await createKey(KEYS.revoke, 'Soon revoked', 'sender');
    // Warm: the key is cached by the handlers that take these routes.
    expect((await api.call('POST', '/v1/broadcasts', { key: sender.apiKey, body: {} })).status).toBe(400);
    expect(
      (await api.call('POST', `/v1/broadcasts/${BROADCAST}/cancel`, { key: sender.apiKey })).status,
    ).toBe(404);
    expect((await api.call('POST', `/v1/broadcasts/${BROADCAST}/retry`, { key: sender.apiKey })).status).toBe(
      404,
    );

    const revokedAt = Date.now();
    expect((await api.call('DELETE', `/v1/api-keys/${sender.keyId}`, { key: KEYS.revoke })).status).toBe(204);
    const refused = async () => {
      const statuses = await Promise.all([
        api.call('POST', '/v1/broadcasts', { key: sender.apiKey, body: {} }),
        api.call('POST', `/v1/broadcasts/${BROADCAST}/cancel`, { key: sender.apiKey }),
        api.call('POST', `/v1/broadcasts/${BROADCAST}/retry`, { key: sender.apiKey }),
      ]);
      return statuses.every((r) => r.status === 401) ? true : undefined;
    };
    // Three requests a round, every 300 ms: about 10 a second, half the tenant's RATE_LIMIT, so the
    // revoke below is not refused 429 (every 100 ms, on a fast machine, the rounds reached 20/s).
    await waitFor(refused, {
      timeoutMs: 5_000,
      intervalMs: 300,
      message: 'the revoked key was honoured for 5 s',
    });
    const elapsed = Date.now() - revokedAt;
    expect(elapsed).toBeLessThan(5_000);
    expect(await refused()).toBe(true);
    // Revoking again is harmless; the list shows when.
    expect((await api.call('DELETE', `/v1/api-keys/${sender.keyId}`, { key: KEYS.revoke })).status).toBe(204);
    const listed = (await api.call('GET', '/v1/api-keys', { key: KEYS.revoke })).body.items.find(
      (k: Json) => k.keyId === sender.keyId,
    );
    expect(listed.revokedAt).toEqual(expect.any(String));
  });

  it("refuses to revoke the tenant's last active admin key (409); with a second admin, it can", async () => {
    const seeded = derivedKeyId(hashApiKey(KEYS.revoke));
    const last = await api.call('DELETE', `/v1/api-keys/${seeded}`, { key: KEYS.revoke });
    expect(last.status).toBe(409);
    expect(last.body.error).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('last active admin'),
    });
    const second = await createKey(KEYS.revoke, 'Second admin', 'admin');
    expect((await api.call('DELETE', `/v1/api-keys/${seeded}`, { key: second.apiKey })).status).toBe(204);
    await waitFor(
      async () =>
        (await api.call('GET', '/v1/metrics', { key: KEYS.revoke })).status === 401 ? true : undefined,
      { timeoutMs: 5_000, intervalMs: 100, message: 'the revoked admin key was honoured for 5 s' },
    );
    // The second admin is now the last: it cannot revoke itself.
    expect((await api.call('DELETE', `/v1/api-keys/${second.keyId}`, { key: second.apiKey })).status).toBe(
      409,
    );

    // A restart of npm start with the same LOCAL_API_KEYS does not un-revoke it, and says so.
    const warnings: string[] = [];
    const outcomes = await seedApiKeys(
      api.twin.dynamodbEndpoint,
      api.twin.tableNames.main,
      [{ tenantId: 'revoke', key: KEYS.revoke }],
      (message) => warnings.push(message),
    );
    expect(outcomes).toEqual(['revoked']);
    expect(warnings.join('\n')).toContain("tenant 'revoke'");
    expect(warnings.join('\n')).not.toContain(KEYS.revoke);
    expect((await api.call('GET', '/v1/metrics', { key: KEYS.revoke })).status).toBe(401);
  });

  it('two admins revoking each other at the same moment: one wins, the tenant keeps an admin', async () => {
    const first = derivedKeyId(hashApiKey(KEYS.duel));
    const second = await createKey(KEYS.duel, 'Duelling admin', 'admin');
    // Both keys warm (trusted for 2 s), so each request gets past authentication whichever lands first.
    expect((await api.call('GET', '/v1/api-keys', { key: second.apiKey })).status).toBe(200);
    expect((await api.call('GET', '/v1/api-keys', { key: KEYS.duel })).status).toBe(200);
    const [a, b] = await Promise.all([
      api.call('DELETE', `/v1/api-keys/${second.keyId}`, { key: KEYS.duel }),
      api.call('DELETE', `/v1/api-keys/${first}`, { key: second.apiKey }),
    ]);
    expect([a.status, b.status].sort()).toEqual([204, 409]);
    const survivor = a.status === 204 ? KEYS.duel : second.apiKey;
    const keys = (await api.call('GET', '/v1/api-keys', { key: survivor })).body.items as Json[];
    expect(keys.filter((k) => k.role === 'admin' && !k.revokedAt)).toHaveLength(1);
  });

  it('rotation gives a new secret for the same key id, name and role; the old secret is refused', async () => {
    const sender = await createKey(KEYS.rotate, 'Rotated', 'sender');
    expect((await api.call('GET', '/v1/broadcasts', { key: sender.apiKey })).status).toBe(200);
    const rotated = await api.call('POST', `/v1/api-keys/${sender.keyId}/rotate`, { key: KEYS.rotate });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({
      keyId: sender.keyId,
      name: 'Rotated',
      role: 'sender',
      rotatedAt: expect.any(String),
    });
    expect(rotated.body.apiKey).not.toBe(sender.apiKey);
    expect((await api.call('GET', '/v1/broadcasts', { key: rotated.body.apiKey })).status).toBe(200);
    await waitFor(
      async () =>
        (await api.call('GET', '/v1/broadcasts', { key: sender.apiKey })).status === 401 ? true : undefined,
      { timeoutMs: 5_000, intervalMs: 100, message: 'the rotated-away secret was honoured for 5 s' },
    );
    // The tenant's only admin key may be rotated: the new secret is in the answer.
    const admin = derivedKeyId(hashApiKey(KEYS.rotate));
    const self = await api.call('POST', `/v1/api-keys/${admin}/rotate`, { key: KEYS.rotate });
    expect(self.status).toBe(200);
    expect((await api.call('GET', '/v1/api-keys', { key: self.body.apiKey })).status).toBe(200);
  });
});

describe('audit log', { timeout: 30_000 }, () => {
  it('records every successful write (who, what, which), newest first, without phone numbers; admin only; per tenant', async () => {
    const admin = derivedKeyId(hashApiKey(KEYS.audit));
    const viewer = await createKey(KEYS.audit, 'Reader', 'viewer');
    const phone = testPhone();
    expect(
      (
        await api.call('PUT', `/v1/contacts/${encodeURIComponent(phone)}`, {
          key: KEYS.audit,
          body: { name: 'Dana' },
        })
      ).status,
    ).toBe(200);
    expect(
      (await api.call('PUT', '/v1/settings', { key: KEYS.audit, body: { requireConsentForMarketing: true } }))
        .status,
    ).toBe(200);
    // Refused and read-only calls are not writes.
    expect((await api.call('POST', '/v1/api-keys', { key: KEYS.audit, body: {} })).status).toBe(400);
    expect((await api.call('GET', '/v1/contacts', { key: KEYS.audit })).status).toBe(200);
    expect((await api.call('DELETE', `/v1/api-keys/${viewer.keyId}`, { key: KEYS.audit })).status).toBe(204);

    const log = await api.call('GET', '/v1/audit', { key: KEYS.audit });
    expect(log.status).toBe(200);
    expect(log.body.items.map((e: Json) => e.action)).toEqual([
      'api_key.revoke',
      'settings.update',
      'contact.upsert',
      'api_key.create',
    ]);
    expect(log.body.items[0]).toEqual({
      at: expect.any(String),
      keyId: admin,
      action: 'api_key.revoke',
      resource: viewer.keyId,
      detail: { statusCode: 204 },
    });
    expect(log.body.items[3]).toMatchObject({
      resource: viewer.keyId,
      detail: { name: 'Reader', role: 'viewer' },
    });
    expect(log.body.items[2].resource).toBe(`+${'*'.repeat(phone.length - 5)}${phone.slice(-4)}`);

    const filtered = await api.call('GET', '/v1/audit?action=api_key.create&limit=10', { key: KEYS.audit });
    expect(filtered.body.items.map((e: Json) => e.action)).toEqual(['api_key.create']);
    const paged = await api.call('GET', '/v1/audit?limit=2', { key: KEYS.audit });
    expect(paged.body.items).toHaveLength(2);
    const next = await api.call('GET', `/v1/audit?limit=2&cursor=${paged.body.nextCursor}`, {
      key: KEYS.audit,
    });
    expect(next.body.items.map((e: Json) => e.action)).toEqual(['contact.upsert', 'api_key.create']);
    // Another tenant's cursor and log are not this tenant's.
    expect(
      (await api.call('GET', `/v1/audit?cursor=${paged.body.nextCursor}`, { key: KEYS.beta })).status,
    ).toBe(400);
    const beta = await api.call('GET', '/v1/audit', { key: KEYS.beta });
    expect(beta.body.items.map((e: Json) => e.resource)).not.toContain(viewer.keyId);

    // Stored with the TTL attribute, AUDIT_RETENTION_DAYS (365) ahead, and no phone number anywhere.
    const { Items } = await db.send(
      new QueryCommand({
        TableName: api.twin.tableNames.main,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'AUDIT#audit' },
      }),
    );
    expect(Items).toHaveLength(4);
    for (const item of Items ?? [])
      expect(Math.abs(Number(item.expiresAt) - (Date.parse(item.at) / 1000 + 365 * 86_400))).toBeLessThan(2);
    expect(JSON.stringify(Items)).not.toContain(phone.slice(1));
  });
});

describe('per-tenant rate limit', { timeout: 30_000 }, () => {
  it('answers 429 RATE_LIMITED with Retry-After to a tenant over its limit while another is served', async () => {
    const settings = async (key: string) => {
      const res = await fetch(`${api.twin.apiUrl}/v1/settings`, {
        headers: { authorization: `Bearer ${key}` },
      });
      return {
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        body: (await res.json()) as Json,
      };
    };
    // A burst of 3x the limit at once; on a slow machine its requests may spread over several
    // one-second windows, so burst again until a window overflows (a deadline, not a sleep). The
    // quiet tenant's request goes out with each burst.
    const { quiet, burst } = await waitFor(
      async () => {
        const [quiet, ...burst] = await Promise.all([
          settings(KEYS.quiet),
          ...Array.from({ length: RATE_LIMIT * 3 }, () => settings(KEYS.burst)),
        ]);
        return burst.some((r) => r.status === 429) ? { quiet, burst } : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 0, message: 'the bursting tenant was never limited' },
    );
    expect(quiet.status).toBe(200);
    const limited = burst.filter((r) => r.status === 429);
    expect(burst.filter((r) => r.status !== 429 && r.status !== 200).map((r) => [r.status, r.body])).toEqual(
      [],
    );
    expect(limited[0]).toMatchObject({
      retryAfter: '1',
      body: { error: { code: 'RATE_LIMITED', message: expect.stringContaining(`${RATE_LIMIT} per second`) } },
    });
  });
});
