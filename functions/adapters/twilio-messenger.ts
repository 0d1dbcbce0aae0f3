import twilio from 'twilio';
import type { MessageInstance } from 'twilio/lib/rest/api/v2010/account/message.js';
import { sameWhatsAppIdentity, stripWhatsAppPrefix, toWhatsAppAddress } from '../core/phones.ts';
import type {
  Messenger,
  OutboundTemplate,
  OutboundText,
  ProviderMessage,
  ProviderSendResult,
} from '../core/ports.ts';
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
  /** The sender's own messages per second (a tenant's setting); absent: the deployment's. */
  readonly mps?: number;
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
  readonly sender: string;
  readonly mps?: number;
  readonly #client: twilio.Twilio | undefined;
  readonly #from: string | undefined;
  readonly #messagingServiceSid: string | undefined;

  constructor(options: TwilioMessengerOptions) {
    this.#from = options.from ? toWhatsAppAddress(options.from) : undefined;
    this.#messagingServiceSid = options.messagingServiceSid || undefined;
    this.sender = this.#messagingServiceSid ?? this.#from ?? '';
    if (options.mps) this.mps = options.mps;
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
    // twilio-node loads its REST modules on first use: load them now, at cold start, rather than in
    // the first paced send, where tens of milliseconds would bunch it with the next one.
    this.#client?.messages.get;
  }

  sendTemplate(message: OutboundTemplate): Promise<ProviderSendResult> {
    return this.#create(message.to, message.statusCallback, {
      contentSid: message.contentSid,
      contentVariables: JSON.stringify(message.contentVariables),
    });
  }

  sendText(message: OutboundText): Promise<ProviderSendResult> {
    return this.#create(message.to, message.statusCallback, { body: message.body });
  }

  async #create(
    to: string,
    statusCallback: string,
    content: { contentSid: string; contentVariables: string } | { body: string },
  ): Promise<ProviderSendResult> {
    const client = this.#client;
    if (!client || !this.configured) {
      // Nothing was sent: a configuration problem, answered like Twilio's own 401 so it is permanent
      // for this attempt and loud in the logs, never a silent success.
      return { kind: 'http-error', status: 401, code: 20003, message: 'Twilio is not configured' };
    }
    try {
      const created = await client.messages.create({
        to: toWhatsAppAddress(to),
        ...(this.#messagingServiceSid ? { messagingServiceSid: this.#messagingServiceSid } : {}),
        ...(this.#from ? { from: this.#from } : {}),
        ...content,
        statusCallback,
      });
      if (!created?.sid) return { kind: 'network-error', message: 'Twilio answered without a message SID' };
      return { kind: 'accepted', sid: created.sid };
    } catch (error) {
      return toProviderFailure(error);
    }
  }

  /** The message with this SID; undefined when Twilio has none (404 / 20404). Other failures throw. */
  async fetchMessage(sid: string): Promise<ProviderMessage | undefined> {
    const client = this.#requireClient();
    try {
      return toProviderMessage(await client.messages(sid).fetch());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Our messages to `to` created since `since`, oldest first (reconciliation of an ambiguous send).
   * Two lists, merged by SID: one by `DateSent>` (what DESIGN.md names), and the newest page by To/From
   * without a date filter, because Twilio leaves `date_sent` empty while a message waits in its queue
   * (rate limits can hold it for hours), and a date filter would miss exactly the message we look for.
   * With a Messaging Service there is no From to filter on: To and the dates only.
   */
  async findMessages(to: string, since: Date): Promise<ProviderMessage[]> {
    const client = this.#requireClient();
    const base = {
      to: toWhatsAppAddress(to),
      ...(this.#from && !this.#messagingServiceSid ? { from: this.#from } : {}),
    };
    const [bySent, newest] = await Promise.all([
      client.messages.list({ ...base, dateSentAfter: since, limit: FIND_LIMIT }),
      client.messages.list({ ...base, limit: RECENT_LIMIT, pageSize: RECENT_LIMIT }),
    ]);
    const found = new Map<string, ProviderMessage>();
    for (const instance of [...bySent, ...newest]) {
      const message = toProviderMessage(instance);
      // Twilio's DateSent filter is coarse (whole seconds, or whole days): the exact bound is ours.
      if (message.dateCreated.getTime() < since.getTime()) continue;
      if (!sameWhatsAppIdentity(message.to, to)) continue;
      found.set(message.sid, message);
    }
    return [...found.values()].sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime());
  }

  #requireClient(): twilio.Twilio {
    if (!this.#client) throw new Error('Twilio is not configured (account SID and auth token)');
    return this.#client;
  }
}

/** At most this many messages per reconciliation list (one recipient's messages from us since a claim). */
const FIND_LIMIT = 100;
const RECENT_LIMIT = 20;

/** Twilio's Message resource → the port's ProviderMessage (`to` as bare E.164). */
export function toProviderMessage(instance: MessageInstance): ProviderMessage {
  const errorCode =
    instance.errorCode === null || instance.errorCode === undefined ? NaN : Number(instance.errorCode);
  const created =
    instance.dateCreated instanceof Date ? instance.dateCreated : new Date(String(instance.dateCreated));
  return {
    sid: instance.sid,
    to: stripWhatsAppPrefix(instance.to ?? ''),
    status: String(instance.status ?? ''),
    ...(Number.isFinite(errorCode) && errorCode !== 0 ? { errorCode } : {}),
    dateCreated: created,
  };
}

function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { status?: unknown; code?: unknown };
  return e.status === 404 || e.code === 20404;
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
