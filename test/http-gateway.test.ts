import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpGateway } from '../lib/local/http-gateway.ts';
import { invokeWithTimeout, type LambdaHandler } from '../lib/local/lambda-runtime.ts';
import { handler as echo } from './fixtures/echo-handler.ts';

const spec = { timeoutSeconds: 1, memoryMb: 128 };
const invokeOf = (fn: LambdaHandler) => (event: unknown) => invokeWithTimeout('test', spec, fn, event);

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer(
    createHttpGateway({
      routes: [
        { method: 'GET', path: '/v1/broadcasts/{id}', invoke: invokeOf(echo as LambdaHandler) },
        {
          method: 'GET',
          path: '/v1/broadcasts/summary',
          invoke: async () => ({ statusCode: 200, body: 'static' }),
        },
        { method: 'POST', path: '/webhooks/twilio/status', invoke: invokeOf(echo as LambdaHandler) },
        { method: 'GET', path: '/plain', invoke: async () => ({ ok: true }) },
        {
          method: 'GET',
          path: '/boom',
          invoke: async () => {
            throw new Error('secret detail');
          },
        },
        { method: 'GET', path: '/slow', invoke: invokeOf(() => new Promise(() => {})) },
      ],
      log: () => {},
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('local HTTP gateway (API Gateway HTTP API, payload 2.0)', () => {
  it('builds a 2.0 event with route key, path parameters, query and headers', async () => {
    const res = await fetch(`${base}/v1/broadcasts/brd_123?status=failed&status=sent&limit=5`, {
      headers: { 'X-Custom': 'yes', cookie: 'session=abc; theme=dark' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    const event = (await res.json()) as APIGatewayProxyEventV2;
    expect(event.version).toBe('2.0');
    expect(event.routeKey).toBe('GET /v1/broadcasts/{id}');
    expect(event.rawPath).toBe('/v1/broadcasts/brd_123');
    expect(event.rawQueryString).toBe('status=failed&status=sent&limit=5');
    expect(event.pathParameters).toEqual({ id: 'brd_123' });
    expect(event.queryStringParameters).toEqual({ status: 'failed,sent', limit: '5' });
    expect(event.headers['x-custom']).toBe('yes');
    expect(event.cookies).toEqual(['session=abc', 'theme=dark']);
    expect(event.requestContext.http.method).toBe('GET');
    expect(event.body).toBeUndefined();
  });

  it('prefers a literal route over a parameter route, as API Gateway does', async () => {
    const res = await fetch(`${base}/v1/broadcasts/summary`);
    expect(await res.text()).toBe('static');
  });

  it('base64-encodes form bodies (as Twilio webhooks arrive on AWS) and passes JSON as text', async () => {
    const form = await fetch(`${base}/webhooks/twilio/status?r=rcp_1&a=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'MessageSid=SM1&MessageStatus=delivered',
    });
    const formEvent = (await form.json()) as APIGatewayProxyEventV2;
    expect(formEvent.isBase64Encoded).toBe(true);
    expect(Buffer.from(formEvent.body ?? '', 'base64').toString()).toBe(
      'MessageSid=SM1&MessageStatus=delivered',
    );

    const json = await fetch(`${base}/webhooks/twilio/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    const jsonEvent = (await json.json()) as APIGatewayProxyEventV2;
    expect(jsonEvent.isBase64Encoded).toBe(false);
    expect(jsonEvent.body).toBe('{"a":1}');
  });

  it("answers API Gateway's own errors: unknown route, handler failure, timeout", async () => {
    const notFound = await fetch(`${base}/nope`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ message: 'Not Found' });

    const wrongMethod = await fetch(`${base}/plain`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(404);

    const boom = await fetch(`${base}/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.text()).not.toContain('secret detail');

    const slow = await fetch(`${base}/slow`);
    expect(slow.status).toBe(500);
  });

  it('serialises a non-structured result as a 200 JSON body', async () => {
    const res = await fetch(`${base}/plain`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ ok: true });
  });

  it('rejects a request over the 6 MB Lambda payload limit with 413', async () => {
    const res = await fetch(`${base}/webhooks/twilio/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(6 * 1024 * 1024 + 1),
    });
    expect(res.status).toBe(413);
  });
});
