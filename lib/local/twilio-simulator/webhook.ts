// One signed webhook POST, as Twilio makes them: form-encoded, X-Twilio-Signature over the exact URL
// (query string included) and the form parameters, signed with the account's auth token.
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

/** Throws when the POST itself fails (connection refused, timeout); any HTTP answer resolves. */
export async function postSigned(
  url: string,
  params: Record<string, string>,
  options: SignedPostOptions,
): Promise<SignedPostAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'User-Agent': 'TwilioProxy/1.1',
      'X-Twilio-Signature': signatureFor(options.authToken, url, params),
      'I-Twilio-Idempotency-Token': options.idempotencyToken,
    },
    body: new URLSearchParams(params),
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  if (!options.readBody) {
    await response.body?.cancel();
    return { status: response.status, ok: response.ok, body: '' };
  }
  return { status: response.status, ok: response.ok, body: await response.text() };
}

/** The most useful text of a fetch failure (undici hides the socket error in `cause`). */
export function problemText(error: unknown): string {
  return error instanceof Error
    ? ((error.cause as Error | undefined)?.message ?? error.message)
    : String(error);
}
