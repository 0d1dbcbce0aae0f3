import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApiError, errorBody, headersOf, statusOf } from '../../functions/core/errors.ts';
import { HTTP_API_MAX_BODY_BYTES, LAMBDA_MAX_EVENT_BYTES } from '../../functions/core/request-limits.ts';
import { type CompiledRoute, compileRoutes, matchRoute, noRouteError } from '../../functions/core/routes.ts';
import type { HttpMethod } from '../topology.ts';
import type { Invoke } from './lambda-runtime.ts';

export interface GatewayRoute {
  readonly method: HttpMethod;
  /** API Gateway syntax: `/v1/broadcasts/{id}`, or a greedy `{proxy+}`. */
  readonly path: string;
  readonly invoke: Invoke;
}

/**
 * Turns HTTP requests into API Gateway HTTP API (payload format 2.0) events for the same
 * handlers that run on AWS, and their results back into HTTP responses. A request no route
 * takes goes to the `$default` route's function when there is one (as on AWS); every answer
 * the gateway gives itself (no route, an oversized request, a malformed path, a failed
 * handler) is in API.md's error shape, where API Gateway on AWS answers with its own
 * `{"message": …}` (README, "Where this departs from the API contract").
 */
export function createHttpGateway(options: {
  routes: readonly GatewayRoute[];
  /** The `$default` route's function: it answers whatever no route takes. */
  defaultRoute?: Invoke;
  log: (entry: Record<string, unknown>) => void;
}): (req: IncomingMessage, res: ServerResponse) => void {
  const table = compileRoutes(options.routes);
  return (req, res) => {
    handle(table, req, res).catch((error: unknown) => {
      options.log({ level: 'ERROR', message: 'gateway failure', error: String(error) });
      if (!res.headersSent) sendError(res, error);
      else res.end();
    });
  };

  async function handle(
    routes: CompiledRoute<GatewayRoute>[],
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const match = matchRoute(routes, method, url.pathname);
    if (!match && !options.defaultRoute) return sendError(res, noRouteError(routes, method, url.pathname));
    const pathParameters = match ? decodeParameters(match.rawParameters) : {};
    if (pathParameters instanceof ApiError) return sendError(res, pathParameters);

    const body = await readBody(req, HTTP_API_MAX_BODY_BYTES);
    if (body === 'too-large')
      return sendError(
        res,
        payloadTooLarge(`the body is over ${HTTP_API_MAX_BODY_BYTES} bytes`, {
          maxBodyBytes: HTTP_API_MAX_BODY_BYTES,
        }),
      );

    const routeKey = match ? `${match.route.method} ${match.route.path}` : '$default';
    const event = toEvent(req, url, method, routeKey, pathParameters, body);
    const eventBytes = mayExceedEventLimit(body) ? Buffer.byteLength(JSON.stringify(event), 'utf8') : 0;
    if (eventBytes > LAMBDA_MAX_EVENT_BYTES)
      return sendError(
        res,
        payloadTooLarge(
          `the request makes a ${eventBytes}-byte Lambda event (at most ${LAMBDA_MAX_EVENT_BYTES})`,
          { eventBytes, maxEventBytes: LAMBDA_MAX_EVENT_BYTES },
        ),
      );

    const invoke = match ? match.route.invoke : (options.defaultRoute as Invoke);
    let result: unknown;
    try {
      result = await invoke(event);
    } catch (error) {
      options.log({
        level: 'ERROR',
        message: 'handler failed',
        routeKey,
        error: error instanceof Error ? error.message : String(error),
      });
      return sendError(res, error);
    }
    const response = fromResult(result);
    res.writeHead(response.statusCode, response.headers);
    res.end(response.body);
    options.log({
      level: 'INFO',
      message: 'request',
      routeKey,
      status: response.statusCode,
      ms: Date.now() - started,
    });
  }
}

/** Path parameters decoded as API Gateway passes them; malformed percent-encoding is a 400. */
function decodeParameters(raw: Readonly<Record<string, string>>): Record<string, string> | ApiError {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    try {
      decoded[name] = decodeURIComponent(value);
    } catch {
      return new ApiError(
        'VALIDATION_FAILED',
        `Invalid path parameter: ${name}: malformed percent-encoding`,
        [{ path: name, message: 'malformed percent-encoding (each % must start a UTF-8 byte as %XX)' }],
      );
    }
  }
  return decoded;
}

function payloadTooLarge(why: string, limit: Record<string, number>): ApiError {
  return new ApiError(
    'PAYLOAD_TOO_LARGE',
    `The request is too large: ${why}. Send a smaller body (for POST /v1/broadcasts: fewer recipients per request, in several broadcasts).`,
    [{ message: why, ...limit }],
  );
}

/**
 * The body, or 'too-large' past `limit`. An oversized body is still read to its end (and dropped):
 * leaving the loop would destroy the socket, and the client would see a reset instead of the 413.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
    else chunks.length = 0;
  }
  return size > limit ? 'too-large' : Buffer.concat(chunks);
}

/**
 * Whether a request with this body could make an event over Lambda's limit: the body at its worst in
 * the event (JSON escaping turns a control character into six bytes; base64 takes 4/3) plus the rest
 * of the event, which Node's 16 KB limit on a request's headers (the URL included) keeps under 64 KB
 * even with the path and query repeated. Only then is the event serialized to be measured, not for
 * every status callback.
 */
function mayExceedEventLimit(body: Buffer): boolean {
  return body.length * 6 + 64 * 1024 > LAMBDA_MAX_EVENT_BYTES;
}

/** HTTP APIs pass text bodies as is and base64-encode the rest (Twilio's form posts included). */
function isTextContent(contentType: string | undefined): boolean {
  if (!contentType) return true;
  return /^text\/|json|xml|javascript/i.test(contentType);
}

function toEvent(
  req: IncomingMessage,
  url: URL,
  method: string,
  routeKey: string,
  pathParameters: Record<string, string>,
  body: Buffer,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'cookie') continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // As API Gateway and Function URLs do: the scheme, port and client the request came with.
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  headers['x-forwarded-for'] ??= req.socket.remoteAddress ?? '127.0.0.1';
  const cookies = req.headers.cookie?.split(/;\s*/).filter(Boolean);
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value;
  const now = new Date();
  const text = isTextContent(req.headers['content-type']);
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies && cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

/**
 * Payload 2.0 responses: a structured result, or anything else, which API Gateway
 * serialises as a 200 JSON body.
 */
function fromResult(result: unknown): {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
} {
  if (result && typeof result === 'object' && 'statusCode' in result) {
    const r = result as APIGatewayProxyStructuredResultV2;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(r.headers ?? {})) headers[name.toLowerCase()] = String(value);
    if (r.cookies && r.cookies.length > 0) headers['set-cookie'] = r.cookies;
    const raw = r.body ?? '';
    return {
      statusCode: r.statusCode ?? 200,
      headers,
      body: r.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8'),
    };
  }
  const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) };
}

/** Any error in API.md's shape: an ApiError with its code and headers, anything else as INTERNAL. */
function sendError(res: ServerResponse, error: unknown): void {
  res.writeHead(statusOf(error), { ...headersOf(error), 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(errorBody(error)));
}
