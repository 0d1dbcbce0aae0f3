import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouteNotFoundHandler } from '../functions/route-not-found.ts';
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

  it('answers what no route takes in the error shape: 404 for an unknown path, 405 (with Allow) for another method', async () => {
    const notFound = await fetch(`${base}/nope`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({
      error: { code: 'NOT_FOUND', message: 'No route GET /nope. GET /openapi.json lists the routes.' },
    });

    const wrongMethod = await fetch(`${base}/plain`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect(await wrongMethod.json()).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } });

    const webhookGet = await fetch(`${base}/webhooks/twilio/status`);
    expect(webhookGet.status).toBe(405);
    expect(webhookGet.headers.get('allow')).toBe('POST');
  });

  it('answers a failed or timed-out handler as INTERNAL in the error shape, without its detail', async () => {
    const boom = await fetch(`${base}/boom`);
    expect(boom.status).toBe(500);
    const text = await boom.text();
    expect(text).not.toContain('secret detail');
    expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL', message: 'Internal error' } });

    const slow = await fetch(`${base}/slow`);
    expect(slow.status).toBe(500);
    expect(await slow.json()).toMatchObject({ error: { code: 'INTERNAL' } });
  });

  it('refuses malformed percent-encoding in a path parameter with 400, not 500', async () => {
    const res = await fetch(`${base}/v1/broadcasts/%E0%A4%A`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'Invalid path parameter: id: malformed percent-encoding',
        details: [{ path: 'id', message: expect.stringContaining('percent-encoding') }],
      },
    });
    // Well-formed encoding is decoded, as API Gateway passes path parameters.
    const ok = (await (await fetch(`${base}/v1/broadcasts/%2B97250%20x`)).json()) as APIGatewayProxyEventV2;
    expect(ok.pathParameters).toEqual({ id: '+97250 x' });
  });

  it('serialises a non-structured result as a 200 JSON body', async () => {
    const res = await fetch(`${base}/plain`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ ok: true });
  });

  it('measures the 6 MB limit on the Lambda event, as Lambda does: escaped JSON and base64 count', async () => {
    const tooLarge = async (
      res: Response,
      limit: Record<string, number> = { maxEventBytes: 6 * 1024 * 1024 },
    ) => {
      expect(res.status).toBe(413);
      const body = (await res.json()) as { error: { code: string; details: Record<string, unknown>[] } };
      expect(body.error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(body.error.details[0]).toMatchObject(limit);
    };
    const post = (body: string, contentType: string) =>
      fetch(`${base}/webhooks/twilio/status`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
    const MB = 1024 * 1024;

    // Over 6 MB as it is.
    await tooLarge(await post('x'.repeat(6 * MB + 1), 'application/json'));
    // 3.2 MB of quotes: each is escaped to two bytes inside the event's body string.
    await tooLarge(await post('"'.repeat(3.2 * MB), 'application/json'));
    // A 4.8 MB form body is base64 in the event: 6.4 MB.
    await tooLarge(await post('a'.repeat(4.8 * MB), 'application/x-www-form-urlencoded'));
    // Over HTTP API's own 10 MB: read to its end and answered (not a connection reset).
    await tooLarge(await post('x'.repeat(12 * MB), 'application/json'), { maxBodyBytes: 10 * MB });

    // 4.5 MB of plain JSON text makes an event under 6 MB: it reaches the handler.
    const fits = await post('x'.repeat(4.5 * MB), 'application/json');
    expect(fits.status).toBe(200);
    expect(((await fits.json()) as APIGatewayProxyEventV2).body).toHaveLength(4.5 * MB);
  });
});

describe('local HTTP gateway with a $default route', () => {
  let withDefault: Server;
  let url: string;
  const routes = [
    { method: 'GET' as const, path: '/v1/things', invoke: invokeOf(echo as LambdaHandler) },
    { method: 'POST' as const, path: '/v1/things', invoke: invokeOf(echo as LambdaHandler) },
  ];

  beforeAll(async () => {
    withDefault = createServer(
      createHttpGateway({
        routes,
        defaultRoute: invokeOf(createRouteNotFoundHandler(routes) as LambdaHandler),
        log: () => {},
      }),
    );
    await new Promise<void>((resolve) => withDefault.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(withDefault.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => withDefault.close(resolve));
  });

  it("hands whatever no route takes to the $default route's function, which answers 404 or 405", async () => {
    const missing = await fetch(`${url}/v1/nothing?x=1`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });

    const wrong = await fetch(`${url}/v1/things`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
    expect(wrong.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await wrong.json()).toEqual({
      error: {
        code: 'METHOD_NOT_ALLOWED',
        message: 'DELETE is not allowed on /v1/things; it takes GET, POST.',
        details: [{ message: 'use GET or POST', allowed: ['GET', 'POST'] }],
      },
    });

    expect((await fetch(`${url}/v1/things`)).status).toBe(200);
  });
});
