import twilio from 'twilio';
import { toWhatsAppAddress } from '../core/phones.ts';
import type { Messenger, OutboundTemplate, ProviderSendResult } from '../core/ports.ts';
import { createTwilioClient } from './twilio-client.ts';

export interface TwilioMessengerOptions {
  readonly accountSid?: string;
  readonly authToken?: string;
  /** The WhatsApp sender, `whatsapp:+E164` (a bare `+E164` is prefixed). */
  readonly from?: string;
  readonly messagingServiceSid?: string;
  /** The local simulator's URL in place of https://api.twilio.com. */
  readonly apiBaseUrl?: string;
  /** Per-request timeout; a send that takes longer is reported as an ambiguous `timeout`. */
  readonly timeoutMs?: number;
}

/** Socket-level error codes that mean "no answer": the request may or may not have reached Twilio. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ECONNABORTED', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The Messenger port over Twilio's Messages API: exactly one create per send, no retries
 * (createTwilioClient turns the SDK's autoRetry off), every outcome mapped to a ProviderSendResult
 * instead of thrown, so the send consumer's classification sees 429s, 4xx, 5xx and silences alike.
 */
export class TwilioMessenger implements Messenger {
  readonly configured: boolean;
  readonly #client: twilio.Twilio | undefined;
  readonly #from: string | undefined;
  readonly #messagingServiceSid: string | undefined;

  constructor(options: TwilioMessengerOptions) {
    this.#from = options.from ? toWhatsAppAddress(options.from) : undefined;
    this.#messagingServiceSid = options.messagingServiceSid || undefined;
    this.configured = Boolean(
      options.accountSid && options.authToken && (this.#from || this.#messagingServiceSid),
    );
    this.#client =
      options.accountSid && options.authToken
        ? createTwilioClient({
            accountSid: options.accountSid,
            authToken: options.authToken,
            ...(options.apiBaseUrl ? { apiBaseUrl: options.apiBaseUrl } : {}),
            ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
          })
        : undefined;
  }

  async sendTemplate(message: OutboundTemplate): Promise<ProviderSendResult> {
    const client = this.#client;
    if (!client || !this.configured) {
      // Nothing was sent: a configuration problem, answered like Twilio's own 401 so it is permanent
      // for this attempt and loud in the logs, never a silent success.
      return { kind: 'http-error', status: 401, code: 20003, message: 'Twilio is not configured' };
    }
    try {
      const created = await client.messages.create({
        to: toWhatsAppAddress(message.to),
        ...(this.#messagingServiceSid ? { messagingServiceSid: this.#messagingServiceSid } : {}),
        ...(this.#from ? { from: this.#from } : {}),
        contentSid: message.contentSid,
        contentVariables: JSON.stringify(message.contentVariables),
        statusCallback: message.statusCallback,
      });
      if (!created?.sid) return { kind: 'network-error', message: 'Twilio answered without a message SID' };
      return { kind: 'accepted', sid: created.sid };
    } catch (error) {
      return toProviderFailure(error);
    }
  }
}

/** Maps whatever the SDK threw to a ProviderSendResult; exported for tests. */
export function toProviderFailure(error: unknown): ProviderSendResult {
  if (error instanceof twilio.RestException || isRestLike(error)) {
    const e = error as { status: number; code?: unknown; message?: unknown };
    return {
      kind: 'http-error',
      status: e.status,
      ...(typeof e.code === 'number' ? { code: e.code } : {}),
      ...(typeof e.message === 'string' && e.message ? { message: e.message } : {}),
    };
  }
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if ((code && TIMEOUT_CODES.has(code)) || /timeout|timed out/i.test(message))
    return { kind: 'timeout', message: code ? `${code}: ${message}` : message };
  if (code && NETWORK_ERROR_CODES.has(code)) return { kind: 'network-error', message: `${code}: ${message}` };
  // Anything else (a parse error of a 2xx body, an unknown throw): we cannot know whether Twilio took
  // the message, so it is ambiguous, never "not sent".
  return { kind: 'network-error', message: code ? `${code}: ${message}` : message };
}

function isRestLike(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status?: unknown }).status === 'number' &&
    (error as { constructor?: { name?: string } }).constructor?.name === 'RestException'
  );
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
