import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import { ApiError, type ErrorCode, errorBody } from '../../functions/core/errors.ts';
import { portError } from './free-port.ts';

/**
 * The local API's HTTP server over the twin's whole life. It listens on 127.0.0.1 from the first
 * moment of `npm start`, so a request never waits on a socket nobody answers:
 * - while the twin starts: `503 STARTING`, `Retry-After: 1`, at once;
 * - once it is ready: the API Gateway emulation (`ready(handler)`);
 * - once it stops (Ctrl-C): `503 STOPPING`, `Retry-After: 1`, `Connection: close`, until the server closes.
 * Bodies have API.md's error shape.
 */
export interface FrontDoor {
  readonly port: number;
  /** Hands every request to `handler` from now on. */
  ready(handler: RequestListener): void;
  /**
   * Answers `503 STOPPING` from now on, and resolves once the requests already handed to the
   * handler have been answered, or after `graceMs`, whichever comes first.
   */
  stopping(graceMs?: number): Promise<void>;
  close(): Promise<void>;
}

const UNAVAILABLE: Readonly<Record<'STARTING' | 'STOPPING', string>> = {
  STARTING:
    'The local twin is starting (DynamoDB Local, the SQS emulator, the handlers): try again in a second.',
  STOPPING: 'The local twin is stopping; start it again with npm start.',
};

/** Listens on 127.0.0.1:`port` (0: a free port) and answers `503 STARTING` until `ready`. */
export async function openFrontDoor(port: number): Promise<FrontDoor> {
  let phase: 'starting' | 'ready' | 'stopping' = 'starting';
  let handler: RequestListener | undefined;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const server = createServer((req, res) => {
    if (phase === 'starting' || !handler) return unavailable(req, res, 'STARTING');
    if (phase === 'stopping') return unavailable(req, res, 'STOPPING');
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    });
    handler(req, res);
  });
  await listen(server, port);

  return {
    port: (server.address() as { port: number }).port,
    ready(next) {
      handler = next;
      if (phase === 'starting') phase = 'ready';
    },
    stopping(graceMs = 5000) {
      phase = 'stopping';
      server.closeIdleConnections();
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
    close: () => closeServer(server),
  };
}

function unavailable(
  req: IncomingMessage,
  res: ServerResponse,
  code: ErrorCode & keyof typeof UNAVAILABLE,
): void {
  req.resume(); // the body is not read: let it drain
  const body = JSON.stringify(errorBody(new ApiError(code, UNAVAILABLE[code])));
  res.writeHead(503, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'retry-after': '1',
    ...(code === 'STOPPING' ? { connection: 'close' } : {}),
  });
  res.end(body);
}

async function listen(server: Server, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(portError(error, port, 'PORT')));
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
