// One signed webhook POST, as Twilio makes them: form-encoded, X-Twilio-Signature over the exact URL
// (query string included) and the form parameters, signed with the account's auth token.
import http from 'node:http';
import https from 'node:https';
import twilio from 'twilio';

export interface SignedPostOptions {
  authToken: string;
  timeoutMs: number;
  /** Sent as I-Twilio-Idempotency-Token. */
  idempotencyToken: string;
  /** Read (and return) the answer's body; otherwise it is discarded. */
  readBody?: boolean;
}

export interface SignedPostAnswer {
  status: number;
  ok: boolean;
  /** The answer's body when `readBody` was set, else ''. */
  body: string;
}

export function signatureFor(authToken: string, url: string, params: Record<string, string>): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

// node:http rather than fetch: undici's fetch (WHATWG streams, an AbortSignal timer per call) took
// 390 µs of CPU per callback against 153 µs here (both ends, measured in one process), about 5 % of a
// core at the ~230 callbacks/s of the bench's send-rate run, on the twin's one event loop, whose
// delays are what bunch the sends it paces.
// Kept-alive connections, as Twilio's own webhook client keeps them; an idle one is closed after 4 s,
// before a Node server's own 5 s keep-alive timeout could close it under a request being sent.
const KEEP_ALIVE = { keepAlive: true, maxSockets: 64, timeout: 4_000 };
const AGENTS = { 'http:': new http.Agent(KEEP_ALIVE), 'https:': new https.Agent(KEEP_ALIVE) };

/** Throws when the POST itself fails (connection refused, timeout); any HTTP answer resolves. */
export function postSigned(
  url: string,
  params: Record<string, string>,
  options: SignedPostOptions,
): Promise<SignedPostAnswer> {
  const target = new URL(url);
  const body = new URLSearchParams(params).toString();
  const send = target.protocol === 'https:' ? https.request : http.request;
  const agent = target.protocol === 'https:' ? AGENTS['https:'] : AGENTS['http:'];
  return new Promise((resolve, reject) => {
    const request = send(
      target,
      {
        method: 'POST',
        agent,
        timeout: options.timeoutMs,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': Buffer.byteLength(body),
          'User-Agent': 'TwilioProxy/1.1',
          'X-Twilio-Signature': signatureFor(options.authToken, url, params),
          'I-Twilio-Idempotency-Token': options.idempotencyToken,
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const answer = (text: string) => resolve({ status, ok: status >= 200 && status < 300, body: text });
        if (!options.readBody) {
          response.resume();
          response.on('end', () => answer(''));
        } else {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => answer(Buffer.concat(chunks).toString('utf8')));
        }
        response.on('error', reject);
      },
    );
    request.on('timeout', () =>
      request.destroy(new Error(`no answer from ${target.host} within ${options.timeoutMs} ms`)),
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** The most useful text of a failed POST (a socket error, or one wrapped in `cause`). */
export function problemText(error: unknown): string {
  return error instanceof Error
    ? ((error.cause as Error | undefined)?.message ?? error.message)
    : String(error);
}
