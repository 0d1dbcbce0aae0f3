// Inbound WhatsApp messages: the control routes that let a developer play the contact (tap a quick-reply
// button on one of our messages, or write free text), the signed form Twilio would post to the sender's
// inbound webhook, and the 24-hour window those messages open (docs: TWILIO.md "Inbound messages and
// quick-reply buttons", "The 24-hour window").
import { sameWhatsAppIdentity } from '../../../functions/core/phones.ts';
import { API_VERSION, newMessageSid, type SimulatedInbound } from './resources.ts';
import { maskPhone } from './scenario.ts';
import type { MessageStore } from './store.ts';
import { postSigned, problemText } from './webhook.ts';

export const WINDOW_MS = 24 * 60 * 60 * 1000;
/** Twilio's total webhook timeout. */
const INBOUND_TIMEOUT_MS = 15_000;
const MAX_WEBHOOK_BODY_BYTES = 1024;
const DEFAULT_PAYLOAD = 'read_broadcast';
const DEFAULT_TEXT = 'Read more';
const PROFILE_NAME = 'Simulated contact';
const SID = /^[A-Z]{2}[0-9a-f]{32}$/i;
/** Twilio's default opt-in keywords, a message of that one word ("START, YES, or UNSTOP"). */
const OPT_IN_KEYWORD = /^\s*(start|yes|unstop)\s*$/i;

export interface ControlAnswer {
  status: number;
  body: unknown;
}

export interface InboundControlOptions {
  accountSid: string;
  authToken: string;
  /** The account that owns a sender (inbound messages to it are posted as that account's); default the one above. */
  accountFor?: (sender: string) => { accountSid: string; authToken: string };
  /** Where inbound messages are posted; without it the inbound controls answer 409. */
  inboundUrl: string | undefined;
  /** The sender a contact writes to when none is named (and the sender of Messaging Service sends). */
  defaultFrom: string;
  now: () => Date;
  store: MessageStore;
  log: (line: string) => void;
}

interface Contact {
  from: string;
  to: string;
  body: string;
  payload?: string;
  repliedTo?: string;
  messagingServiceSid?: string;
}

const fail = (status: number, error: string): ControlAnswer => ({ status, body: { error } });

/** `+972501234567`, `972501234567` or `whatsapp:+972501234567` → `whatsapp:+972501234567`. */
export function toWhatsAppAddress(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(?:whatsapp:)?\+?([1-9]\d{6,14})$/.exec(value.trim());
  return match ? `whatsapp:+${match[1]}` : undefined;
}

/** The form Twilio posts for an inbound WhatsApp message (a quick-reply tap when `payload` is set). */
export function inboundParams(accountSid: string, messageSid: string, c: Contact): Record<string, string> {
  const params: Record<string, string> = {
    AccountSid: accountSid,
    ApiVersion: API_VERSION,
    Body: c.body,
    From: c.from,
    MessageSid: messageSid,
    MessageType: c.payload === undefined ? 'text' : 'button',
    NumMedia: '0',
    NumSegments: '1',
    ProfileName: PROFILE_NAME,
    SmsMessageSid: messageSid,
    SmsSid: messageSid,
    SmsStatus: 'received',
    To: c.to,
    WaId: c.from.replace(/\D/g, ''),
  };
  if (c.payload !== undefined) {
    params.ButtonText = c.body;
    params.ButtonPayload = c.payload;
  }
  if (c.repliedTo) params.OriginalRepliedMessageSid = c.repliedTo;
  if (c.messagingServiceSid) params.MessagingServiceSid = c.messagingServiceSid;
  return params;
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= maxBytes ? text : bytes.subarray(0, maxBytes).toString('utf8');
}

function parseObject(text: string): Record<string, unknown> | ControlAnswer {
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail(400, 'The body must be a JSON object.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(400, 'The body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

/** The optional string fields of a control body; a present field must be a non-empty string. */
function optionalStrings<K extends string>(
  input: Record<string, unknown>,
  keys: readonly K[],
): Partial<Record<K, string>> | ControlAnswer {
  const out: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const value = input[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || value === '') return fail(400, `"${key}" must be a non-empty string.`);
    out[key] = value;
  }
  return out;
}

const isAnswer = (value: unknown): value is ControlAnswer =>
  typeof value === 'object' && value !== null && 'status' in value && 'body' in value;

export class InboundControl {
  readonly #o: InboundControlOptions;

  constructor(options: InboundControlOptions) {
    this.#o = options;
  }

  /** Whether `contact` wrote to `sender` within the last 24 hours (by the simulator's clock). */
  windowOpen(contact: string, sender: string): boolean {
    const last = this.#o.store.lastInboundAt(contact, sender);
    return last !== undefined && this.#o.now().getTime() - last < WINDOW_MS;
  }

  /** GET /_simulator/inbound */
  list(): ControlAnswer {
    return { status: 200, body: this.#o.store.inbound() };
  }

  /**
   * POST /_simulator/messages/{sid}/tap: the recipient of {sid} taps a quick-reply button on it.
   * `from` names the form of their number WhatsApp reports, when it is not the one we sent to: a
   * Mexican account as `+521…`, a Brazilian one older than the ninth digit in 12 digits.
   */
  async tap(sid: string, text: string): Promise<ControlAnswer> {
    const input = parseObject(text);
    if (isAnswer(input)) return input;
    const fields = optionalStrings(input, ['payload', 'text', 'messageSid', 'from'] as const);
    if (isAnswer(fields)) return fields;
    const message = this.#o.store.get(sid);
    if (!message) return fail(404, `No message ${sid} in the simulator.`);
    const to = toWhatsAppAddress(message.from);
    const from = toWhatsAppAddress(fields.from ?? message.to);
    if (!to || !from) return fail(400, `Message ${sid} is not between two phone numbers.`);
    if (!sameWhatsAppIdentity(from, message.to))
      return fail(400, `"from" must be a form of the number message ${sid} was sent to.`);
    return this.#receive(fields.messageSid, {
      from,
      to,
      body: fields.text ?? DEFAULT_TEXT,
      payload: fields.payload ?? DEFAULT_PAYLOAD,
      repliedTo: sid,
      ...(message.messagingServiceSid ? { messagingServiceSid: message.messagingServiceSid } : {}),
    });
  }

  /** POST /_simulator/inbound: the contact writes free text (or taps, when `payload` is given). */
  async inbound(text: string): Promise<ControlAnswer> {
    const input = parseObject(text);
    if (isAnswer(input)) return input;
    const fields = optionalStrings(input, [
      'from',
      'to',
      'body',
      'payload',
      'repliedTo',
      'messageSid',
    ] as const);
    if (isAnswer(fields)) return fields;
    const from = toWhatsAppAddress(fields.from);
    if (!from) {
      return fail(
        400,
        fields.from === undefined
          ? '"from" is required: the contact\'s phone number, e.g. "+972501234567" or "whatsapp:+972501234567".'
          : `"from" must be a phone number in E.164 form, e.g. "+972501234567" (got "${fields.from}").`,
      );
    }
    if (fields.body === undefined && fields.payload === undefined) {
      return fail(400, '"body" is required (the text the contact writes), unless "payload" is given.');
    }
    const replied = fields.repliedTo === undefined ? undefined : this.#o.store.get(fields.repliedTo);
    if (fields.repliedTo !== undefined && !replied) {
      return fail(404, `No message ${fields.repliedTo} in the simulator ("repliedTo").`);
    }
    // The same person, in whatever form WhatsApp reports them (`+521…` for `+52…`, …).
    if (replied && !sameWhatsAppIdentity(replied.to, from)) {
      return fail(400, `Message ${replied.sid} was sent to another contact than "from".`);
    }
    const to = toWhatsAppAddress(fields.to ?? replied?.from ?? this.#o.defaultFrom);
    if (!to) return fail(400, `"to" must be one of our senders' phone numbers (got "${fields.to}").`);
    // Twilio's opt-in keywords lift an unsubscribe (21610), a single word only, and the message still
    // goes to the webhook ("Twilio support for opt-out keywords (SMS STOP filtering)", Twilio support).
    if (
      fields.payload === undefined &&
      OPT_IN_KEYWORD.test(fields.body ?? '') &&
      this.#o.store.resubscribe(from)
    )
      this.#o.log(`${maskPhone(from)} wrote ${(fields.body ?? '').trim().toUpperCase()}: subscribed again`);
    return this.#receive(fields.messageSid, {
      from,
      to,
      body: fields.body ?? fields.payload ?? '',
      ...(fields.payload !== undefined ? { payload: fields.payload } : {}),
      ...(replied ? { repliedTo: replied.sid } : {}),
      ...(replied?.messagingServiceSid ? { messagingServiceSid: replied.messagingServiceSid } : {}),
    });
  }

  #accountOf(sender: string): { accountSid: string; authToken: string } {
    return this.#o.accountFor?.(sender) ?? { accountSid: this.#o.accountSid, authToken: this.#o.authToken };
  }

  /** Records the message (opening the window), posts it to the inbound webhook once, reports the answer. */
  async #receive(messageSid: string | undefined, contact: Contact): Promise<ControlAnswer> {
    const url = this.#o.inboundUrl;
    if (!url) {
      return fail(
        409,
        'No inbound webhook is configured: start the simulator with inboundUrl (npm start sets it to PUBLIC_BASE_URL/webhooks/twilio/inbound).',
      );
    }
    if (messageSid !== undefined && !SID.test(messageSid)) {
      return fail(400, `"messageSid" must look like SM followed by 32 hex digits (got "${messageSid}").`);
    }
    const earlier = messageSid === undefined ? undefined : this.#o.store.getInbound(messageSid);
    let record: SimulatedInbound;
    if (earlier) {
      // Twilio redelivering the same webhook: the same form, byte for byte; the window is not moved.
      record = earlier;
    } else {
      const sid = messageSid ?? newMessageSid();
      record = {
        messageSid: sid,
        from: contact.from,
        to: contact.to,
        body: contact.body,
        type: contact.payload === undefined ? 'text' : 'button',
        buttonPayload: contact.payload ?? null,
        repliedTo: contact.repliedTo ?? null,
        messagingServiceSid: contact.messagingServiceSid ?? null,
        receivedAt: this.#o.now().toISOString(),
        params: inboundParams(this.#accountOf(contact.to).accountSid, sid, contact),
      };
      // Twilio has the message (and the window is open) before the webhook answers.
      this.#o.store.addInbound(record);
    }
    const what =
      `inbound ${record.type} ${record.messageSid} from ${maskPhone(record.from)} to ${maskPhone(record.to)}` +
      (record.repliedTo ? ` replying to ${record.repliedTo}` : '') +
      (record.buttonPayload ? ` (payload ${record.buttonPayload})` : '') +
      (earlier ? ', redelivered' : '');
    try {
      const answer = await postSigned(url, record.params, {
        authToken: this.#accountOf(record.to).authToken,
        timeoutMs: INBOUND_TIMEOUT_MS,
        idempotencyToken: `${record.messageSid}-inbound`,
        readBody: true,
      });
      this.#o.log(`${what}: inbound webhook answered ${answer.status}`);
      return {
        status: 200,
        body: {
          messageSid: record.messageSid,
          webhookStatus: answer.status,
          webhookBody: truncateUtf8(answer.body, MAX_WEBHOOK_BODY_BYTES),
          ...(earlier ? { redelivered: true } : {}),
        },
      };
    } catch (error) {
      const problem = problemText(error);
      this.#o.log(`${what}: inbound webhook unreachable: ${problem}`);
      return {
        status: 502,
        body: {
          error: `The inbound webhook ${url} is unreachable: ${problem}`,
          messageSid: record.messageSid,
        },
      };
    }
  }
}
