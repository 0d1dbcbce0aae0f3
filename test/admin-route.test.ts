import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * The admin-route middleware with DynamoDB (the edge) replaced by a stand-in: what it does when the
 * audit entry or the rate-limit window cannot be written. The happy paths run through the twin
 * (test/integration/access.test.ts).
 */

const calls: { name: string; input: Record<string, unknown> }[] = [];
let failing: Set<string>;
const fakeDb = {
  async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
    const name = command.constructor.name;
    calls.push({ name, input: command.input });
    if (failing.has(name))
      throw Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable' });
    if (name === 'GetCommand')
      return { Item: { tenantId: 'acme', keyId: 'key_01JD0000000000000000000000', role: 'admin' } };
    return {};
  },
};
vi.mock('../functions/commons/wiring.ts', () => ({ dynamoDocumentClient: () => fakeDb }));

const event = (routeKey: string): APIGatewayProxyEventV2 =>
  ({
    routeKey,
    rawPath: '/v1/settings',
    headers: { authorization: `Bearer key-${Math.random()}` },
    requestContext: { http: { method: routeKey.split(' ')[0] } },
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2;
const context = { functionName: 'test', awsRequestId: 'r1', getRemainingTimeInMillis: () => 1000 } as Context;

describe('admin route middleware', () => {
  beforeEach(() => {
    calls.length = 0;
    failing = new Set();
    vi.stubEnv('TABLE_NAME', 'main');
    vi.stubEnv('TENANT_RATE_LIMIT', '50');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('answers the write it made when its audit entry cannot be written, logging and counting the failure', async () => {
    const { adminRoute } = await import('../functions/commons/admin-route.ts');
    const { logger } = await import('../functions/commons/powertools.ts');
    const errors = vi.spyOn(logger, 'error').mockImplementation(() => {});
    const emf = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    failing.add('PutCommand');
    const handler = adminRoute(async () => ({ statusCode: 200, body: '{"ok":true}' }));
    const result = await handler(event('PUT /v1/settings'), context);
    expect(result.statusCode).toBe(200);
    expect(
      calls.some(
        (c) => c.name === 'PutCommand' && String((c.input.Item as { pk: string }).pk) === 'AUDIT#acme',
      ),
    ).toBe(true);
    expect(errors).toHaveBeenCalledWith(
      'audit write failed',
      expect.objectContaining({ action: 'settings.update' }),
    );
    expect(JSON.stringify(errors.mock.calls)).not.toMatch(/Bearer|key-0\./);
    expect(emf.mock.calls.map((c) => String(c[0])).join('\n')).toContain('AuditWriteFailures');
  });

  it('lets a request through when the rate-limit window cannot be written', async () => {
    const { adminRoute } = await import('../functions/commons/admin-route.ts');
    failing.add('UpdateCommand');
    const handler = adminRoute(async () => ({ statusCode: 200, body: '{}' }));
    expect((await handler(event('GET /v1/settings'), context)).statusCode).toBe(200);
  });

  it('refuses a route beyond the role before the handler runs, and writes no audit entry', async () => {
    const { adminRoute } = await import('../functions/commons/admin-route.ts');
    const inner = vi.fn(async () => ({ statusCode: 200, body: '{}' }));
    const handler = adminRoute(inner);
    const res = await handler(event('POST /v1/not-declared'), context);
    expect(res.statusCode).toBe(403);
    expect(inner).not.toHaveBeenCalled();
    expect(calls.filter((c) => c.name === 'PutCommand')).toEqual([]);
  });
});
