// A small HTTP proxy in front of DynamoDB Local or fauxqs that injects TWIN_FAULTS at the wire: it
// forwards each call unchanged, except that at a rule's rate it answers instead with the exact error
// AWS gives (aws-errors.ts), so the handlers' real AWS SDK clients deserialize and retry it as they
// would on AWS. Only the handlers' clients go through it (AWS_ENDPOINT_URL_*); the twin's own calls
// and the event-source pollers (Lambda's side) reach the emulators directly.
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  dynamodbFaultAnswer,
  parseJson,
  sqsBatchAnswer,
  sqsFailedEntry,
  sqsFaultAnswer,
  type WireAnswer,
} from './aws-errors.ts';
import type { FaultInjector } from './injector.ts';
import { appliesTo, type FaultRule } from './spec.ts';

export interface FaultProxyOptions {
  readonly service: 'dynamodb' | 'sqs';
  /** The emulator's endpoint, e.g. http://127.0.0.1:41234. */
  readonly target: string;
  readonly injector: FaultInjector;
  /** Default 0: any free port on 127.0.0.1. */
  readonly port?: number;
}

export interface FaultProxy {
  /** Where the handlers' SDK clients point (AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS). */
  readonly url: string;
  stop(): Promise<void>;
}

/** Request headers not to pass on: the body is re-sent whole, on the proxy's own connection. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);

interface BatchEntry {
  readonly Id?: string;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { service, injector } = options;
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true });
  const rules = injector.rules(service);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    // JSON 1.0 protocol: `X-Amz-Target: DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessageBatch`.
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const applicable = operation ? rules.filter((r) => appliesTo(r, operation)) : [];
    const perEntry = applicable.filter((r) => r.fault === 'PartialFailure');
    const hit = injector.firstHit(applicable.filter((r) => r.fault !== 'PartialFailure'));
    if (hit) {
      const answer =
        service === 'dynamodb'
          ? dynamodbFaultAnswer(hit.fault, operation, body.toString('utf8'), (n) => injector.pick(hit, n))
          : sqsFaultAnswer(hit.fault);
      injector.record(hit, { service, operation, status: answer.status });
      return send(res, answer);
    }
    if (perEntry.length > 0) return partialBatch(req, res, body, operation, perEntry);
    const upstream = await forward(req, res, body);
    if (upstream) send(res, upstream);
  }

  /**
   * SendMessageBatch/DeleteMessageBatch with some entries refused: only the others are forwarded
   * (the refused ones are not sent, not deleted), and the answer lists the refused ones in `Failed`.
   */
  async function partialBatch(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    operation: string,
    perEntry: readonly FaultRule[],
  ): Promise<void> {
    const input = parseJson<{ Entries?: BatchEntry[] }>(body.toString('utf8'));
    const entries = input?.Entries ?? [];
    const refused: { entry: BatchEntry; rule: FaultRule }[] = [];
    const kept: BatchEntry[] = [];
    for (const entry of entries) {
      const rule = injector.firstHit(perEntry);
      if (rule) refused.push({ entry, rule });
      else kept.push(entry);
    }
    for (const { rule } of refused) injector.record(rule, { service, operation, entries: 1 });
    const failed = refused.map(({ entry }) => sqsFailedEntry(entry.Id ?? ''));
    if (refused.length === 0) {
      const upstream = await forward(req, res, body);
      if (upstream) send(res, upstream);
      return;
    }
    if (kept.length === 0) return send(res, sqsBatchAnswer([], failed));
    const upstream = await forward(req, res, Buffer.from(JSON.stringify({ ...input, Entries: kept })));
    if (!upstream) return;
    const output =
      upstream.status === 200
        ? parseJson<{ Successful?: unknown[]; Failed?: unknown[] }>(upstream.body.toString('utf8'))
        : undefined;
    // An error for the whole call (or an answer we cannot read) is passed on as it is.
    if (!output) return send(res, upstream);
    send(res, {
      ...upstream,
      body: JSON.stringify({ ...output, Failed: [...(output.Failed ?? []), ...failed] }),
    });
  }

  /** The emulator's answer to `body`, or undefined when it could not be reached (the caller's socket is then reset). */
  function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<WireAnswer | undefined> {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    headers['content-length'] = String(body.length);
    return new Promise((resolve) => {
      const outgoing = request(
        {
          agent,
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...headers, host: target.host },
        },
        (upstream) => {
          const chunks: Buffer[] = [];
          upstream.on('data', (chunk: Buffer) => chunks.push(chunk));
          upstream.on('error', () => resolve(reset(res)));
          upstream.on('end', () => {
            const answerHeaders: Record<string, string> = {};
            for (const [name, value] of Object.entries(upstream.headers))
              if (value !== undefined && !HOP_BY_HOP.has(name))
                answerHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
            resolve({
              status: upstream.statusCode ?? 502,
              headers: answerHeaders,
              body: Buffer.concat(chunks),
            });
          });
        },
      );
      outgoing.on('error', () => resolve(reset(res)));
      // The caller gave up (an SDK timeout): stop waiting for the emulator on its behalf.
      res.on('close', () => {
        if (!res.writableFinished) outgoing.destroy();
      });
      outgoing.end(body);
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => reset(res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return stopped;
    },
  };
}

function send(res: ServerResponse, answer: WireAnswer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
}

/** What an unreachable emulator looks like to the SDK: the connection drops. */
function reset(res: ServerResponse): undefined {
  res.socket?.destroy();
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
