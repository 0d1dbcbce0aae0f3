/**
 * Opt-out and opt-in by inbound WhatsApp message. Twilio's STOP filtering covers SMS, not WhatsApp,
 * so the service reads the words itself, the way Twilio does for SMS: the whole message is the
 * keyword. "stop", " STOP! " and "Stop." opt out; "please stop sending me this" and "don't stop" do
 * not. A person writing a sentence is talking to someone, and guessing intent from a sentence
 * would opt out people who never asked to be (or miss a negation); keywords stay exact.
 */

export type ContactIntent =
  | { readonly kind: 'opt_out'; readonly via: 'keyword' | 'button'; readonly keyword: string }
  | { readonly kind: 'opt_in'; readonly keyword: string };

/** Arabic letters that write the same word differently; marks are stripped separately. */
const ARABIC_FOLDS: Readonly<Record<string, string>> = {
  ٱ: 'ا', // alef wasla (أ إ آ lose their hamza/madda as combining marks)
  ة: 'ه', // ta marbuta, often typed as ha
  ى: 'ي', // alef maqsura, often typed as ya (and the reverse)
  ی: 'ي', // Persian yeh, from Persian/Urdu keyboards
  ک: 'ك', // keheh, likewise
};

/**
 * The form keywords are compared in: NFKC (full-width and compatibility letters), lower case,
 * without combining marks (Latin accents, Hebrew niqqud, Arabic harakat and the hamza/madda of
 * أ إ آ), Arabic letter variants folded, tatweel and invisible format characters (RLM, ZWJ…)
 * removed, runs of whitespace, dashes and underscores made one space, and anything that is not a
 * letter or digit (punctuation, emoji, spaces) trimmed from both ends.
 */
export function normalizeKeyword(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\p{M}\p{Cf}\u0640]/gu, '')
    .replace(/[ٱةىیک]/gu, (c) => ARABIC_FOLDS[c] ?? c)
    .normalize('NFC')
    .replace(/[\s\p{Pd}_]+/gu, ' ')
    .replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
}

/*
 * Per language, as written; the exported lists hold their normalized forms. A translation of
 * CANCEL or END is included only where a local source uses it for opt-out: elsewhere it is an
 * everyday reply (cancel an order, an appointment). Forms with "me" ("unsubscribe me", "הסר אותי")
 * are left out with the other sentences.
 */
const OPT_OUT_SOURCE: Readonly<Record<string, readonly string[]>> = {
  // Twilio's default opt-out keywords (docs: Advanced Opt-Out); OPT-OUT and REMOVE from AWS End
  // User Messaging's required list; STOP ALL from Telnyx's defaults; "stop promotions" is the
  // label of Meta's marketing opt-out button, typed.
  en: [
    'stop',
    'stopall',
    'stop all',
    'unsubscribe',
    'cancel',
    'end',
    'quit',
    'optout',
    'opt-out',
    'revoke',
    'remove',
    'stop promotions',
  ],
  // Israel's spam law (Communications Law §30A) requires a way to refuse; senders' footers say
  // "להסרה השב הסר" (reply הסר to be removed), so הסר is the word people know. עצור = "stop".
  he: ['הסר', 'הסרה', 'להסרה', 'הסירו', 'עצור'],
  // MMA guidelines as published in Spanish (STOP, CANCELAR, BAJA), Movistar Spain's BAJA, and
  // Ecuador's ARCOTEL rules ("enviar la palabra salir"); PARAR is the plain verb "stop".
  es: ['baja', 'cancelar', 'cancelación', 'salir', 'parar'],
  // Brazilian carriers' opt-out word SAIR (Claro 888, Oi 55555, TIM 4112, Vivo 457); PARAR and
  // CANCELAR are the direct translations used in Brazilian SMS footers.
  pt: ['sair', 'parar', 'cancelar'],
  // Russian operators and SMS services take STOP/СТОП; отписаться / отписка = "unsubscribe".
  ru: ['стоп', 'отписаться', 'отписка'],
  // Arabic senders (Gulf, Egypt) ask for إلغاء / إيقاف; as handled by public WhatsApp bots:
  // إلغاء (cancel), إلغاء الاشتراك (unsubscribe), إيقاف (stopping), توقف (stop).
  ar: ['إلغاء', 'إلغاء الاشتراك', 'إيقاف', 'توقف'],
};

/*
 * Opt-in is stricter than opt-out: a wrong opt-out costs a subscriber, a wrong opt-in sends
 * marketing to someone who refused it. YES is out (Twilio's SMS list has it), because in a
 * WhatsApp conversation "yes" answers any question. Left out as ambiguous: Spanish "alta" (also
 * "high"/"tall"), Portuguese "voltar"/"assinar" (come back / sign), Hebrew "הרשמה"/"התחל"
 * (registration for what the ad offers / start), Arabic "اشتراك"/"تفعيل" (subscribing to or
 * activating the advertised service). Those contacts can still send START.
 */
const OPT_IN_SOURCE: Readonly<Record<string, readonly string[]>> = {
  // Twilio's default opt-in keywords, without YES.
  en: ['start', 'unstop'],
  // старт is START transliterated, the counterpart of СТОП; подписаться = "subscribe".
  ru: ['старт', 'подписаться'],
  // "subscribe me", a verb with no other everyday sense.
  es: ['suscribirme'],
};

function normalizedList(source: Readonly<Record<string, readonly string[]>>): readonly string[] {
  return Object.freeze([...new Set(Object.values(source).flat().map(normalizeKeyword))]);
}

/** Normalized (see normalizeKeyword). */
export const OPT_OUT_KEYWORDS: readonly string[] = normalizedList(OPT_OUT_SOURCE);
/** Normalized (see normalizeKeyword). */
export const OPT_IN_KEYWORDS: readonly string[] = normalizedList(OPT_IN_SOURCE);

const OPT_OUT = new Set(OPT_OUT_KEYWORDS);
const OPT_IN = new Set(OPT_IN_KEYWORDS);
/** Payloads a template's opt-out button may carry, besides the typed keywords. */
const OPT_OUT_PAYLOADS = new Set(
  ['opt_out', 'optout', 'unsubscribe', 'stop_promotions'].map(normalizeKeyword),
);
const STOP_PROMOTIONS = normalizeKeyword('Stop promotions');

function present(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

/**
 * What an inbound WhatsApp message asks of the subscription, if anything.
 *
 * A button tap (a payload or a button text; Twilio then sets Body to the button text) is decided
 * by the button alone: an opt-out payload, or Meta's "Stop promotions" button, opts out; any other
 * tap is not ours to read (it may be a confirmation) and its text is not taken as typed, so a
 * "Cancel" or "Start" quick reply neither opts out nor opts in. Only typed words opt in.
 */
export function contactIntent(message: {
  body?: string;
  buttonPayload?: string;
  buttonText?: string;
}): ContactIntent | undefined {
  const { body, buttonPayload, buttonText } = message;
  if (present(buttonPayload) || present(buttonText)) {
    const payload = present(buttonPayload) ? normalizeKeyword(buttonPayload) : '';
    if (payload !== '' && (OPT_OUT.has(payload) || OPT_OUT_PAYLOADS.has(payload)))
      return { kind: 'opt_out', via: 'button', keyword: payload };
    if (present(buttonText) && normalizeKeyword(buttonText) === STOP_PROMOTIONS)
      return { kind: 'opt_out', via: 'button', keyword: STOP_PROMOTIONS };
    return undefined;
  }
  if (!present(body)) return undefined;
  const keyword = normalizeKeyword(body);
  if (OPT_OUT.has(keyword)) return { kind: 'opt_out', via: 'keyword', keyword };
  if (OPT_IN.has(keyword)) return { kind: 'opt_in', keyword };
  return undefined;
}
