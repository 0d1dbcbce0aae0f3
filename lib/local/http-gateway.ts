import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { HttpMethod } from '../topology.ts';
import type { Invoke } from './lambda-runtime.ts';

export interface GatewayRoute {
  readonly method: HttpMethod;
  /** API Gateway syntax: `/v1/broadcasts/{id}`, or a greedy `{proxy+}`. */
  readonly path: string;
  readonly invoke: Invoke;
}

/** Lambda's synchronous invocation payload limit; API Gateway answers 413 above it. */
const MAX_EVENT_BYTES = 6 * 1024 * 1024;

/**
 * Turns HTTP requests into API Gateway HTTP API (payload format 2.0) events for the same
 * handlers that run on AWS, and their results back into HTTP responses, with API
 * Gateway's own answers where it would answer itself (unknown route, handler error,
 * oversized payload).
 */
export function createHttpGateway(options: {
  routes: readonly GatewayRoute[];
  log: (entry: Record<string, unknown>) => void;
}): (req: IncomingMessage, res: ServerResponse) => void {
  const table = compileRoutes(options.routes);
  return (req, res) => {
    handle(table, req, res).catch((error: unknown) => {
      options.log({ level: 'ERROR', message: 'gateway failure', error: String(error) });
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
      else res.end();
    });
  };

  async function handle(routes: CompiledRoute[], req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const match = matchRoute(routes, method, url.pathname);
    if (!match) return sendJson(res, 404, { message: 'Not Found' });

    const body = await readBody(req, MAX_EVENT_BYTES);
    if (body === 'too-large') return sendJson(res, 413, { message: 'Request Entity Too Large' });

    const event = toEvent(req, url, method, match, body);
    let result: unknown;
    try {
      result = await match.route.invoke(event);
    } catch (error) {
      options.log({
        level: 'ERROR',
        message: 'handler failed',
        routeKey: event.routeKey,
        error: error instanceof Error ? error.message : String(error),
      });
      return sendJson(res, 500, { message: 'Internal Server Error' });
    }
    const response = fromResult(result);
    res.writeHead(response.statusCode, response.headers);
    res.end(response.body);
    options.log({
      level: 'INFO',
      message: 'request',
      routeKey: event.routeKey,
      status: response.statusCode,
      ms: Date.now() - started,
    });
  }
}

interface CompiledRoute {
  readonly route: GatewayRoute;
  readonly pattern: RegExp;
  readonly paramNames: string[];
  /** Literal characters: API Gateway prefers the most specific route. */
  readonly specificity: number;
}

interface RouteMatch {
  readonly route: GatewayRoute;
  readonly pathParameters: Record<string, string>;
}

function compileRoutes(routes: readonly GatewayRoute[]): CompiledRoute[] {
  return routes
    .map((route) => {
      const paramNames: string[] = [];
      const source = route.path
        .split('/')
        .map((segment) => {
          const param = /^\{([A-Za-z0-9_]+)(\+?)\}$/.exec(segment);
          if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          paramNames.push(param[1] as string);
          return param[2] ? '(.+)' : '([^/]+)';
        })
        .join('/');
      return {
        route,
        pattern: new RegExp(`^${source}$`),
        paramNames,
        specificity: route.path.replace(/\{[^}]+\}/g, '').length,
      };
    })
    .sort((a, b) => b.specificity - a.specificity);
}

function matchRoute(routes: CompiledRoute[], method: string, pathname: string): RouteMatch | undefined {
  for (const compiled of routes) {
    if (compiled.route.method !== method) continue;
    const m = compiled.pattern.exec(pathname);
    if (!m) continue;
    const pathParameters: Record<string, string> = {};
    compiled.paramNames.forEach((name, i) => {
      pathParameters[name] = decodeURIComponent(m[i + 1] as string);
    });
    return { route: compiled.route, pathParameters };
  }
  return undefined;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
  match: RouteMatch,
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
  const routeKey = `${match.route.method} ${match.route.path}`;
  const text = isTextContent(req.headers['content-type']);
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies && cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(match.pathParameters).length > 0 ? { pathParameters: match.pathParameters } : {}),
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

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}
