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
 * The form keywords are compared in: NFKC (full-width and compatibility letters, 𝐒𝐓𝐎𝐏), lower case,
 * without the marks that writers may or may not type (Latin accents, Hebrew niqqud, Arabic harakat
 * and the hamza/madda of أ إ آ; Devanagari and other Indic vowel signs are letters and stay), Arabic
 * letter variants folded, tatweel and invisible format characters (RLM, ZWJ…) removed, runs of
 * whitespace, dashes and underscores made one space, and anything that is not a letter, digit or
 * mark (punctuation, emoji, WhatsApp's *bold* and ~strike~ marks, spaces) trimmed from both ends: a
 * Devanagari word may end with a vowel sign (करो).
 */
export function normalizeKeyword(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(OPTIONAL_MARKS, '')
    .replace(/[\p{Cf}\u0640]/gu, '')
    .replace(/[ٱةىیک]/gu, (c) => ARABIC_FOLDS[c] ?? c)
    .normalize('NFC')
    .replace(/[\s\p{Pd}_]+/gu, ' ')
    .replace(/^[^\p{L}\p{N}\p{M}]+|[^\p{L}\p{N}\p{M}]+$/gu, '');
}

/** Combining marks that are optional in writing: the shared (Inherited), Hebrew and Arabic ones. */
const OPTIONAL_MARKS = /[\p{M}&&[\p{sc=Inherited}\p{sc=Hebrew}\p{sc=Arabic}]]/gv;

/** One language's keywords, as written, and what they rest on. */
export interface KeywordList {
  /** ISO 639-1. */
  readonly language: string;
  /** In English, with the markets it serves. */
  readonly name: string;
  readonly words: readonly string[];
  readonly source: string;
}

/*
 * A translation of CANCEL or END is included only where a local source uses it for opt-out:
 * elsewhere it is an everyday reply (cancel an order, an appointment). Sentences ("unsubscribe me",
 * "הסר אותי", "quiero darme de baja") are left out: the whole message must be the keyword.
 * Left out as ambiguous across the markets served, since a wrong opt-out silently loses a
 * subscriber: Swahili "acha" (stop) is romanized Hindi/Urdu "acha" (OK, I see); AWS's Quebec "TD" is
 * Brazilian texting for "tudo" (everything); Mexican "alto" (the stop sign) is also high/tall/loud;
 * "basta" (enough) also answers "is that enough?"; Turkish "dur" (stop) is also "wait"; romanized
 * Hindi "band" alone is an English word.
 */
export const OPT_OUT_LISTS: readonly KeywordList[] = [
  {
    language: 'en',
    name: 'English',
    words: [
      'stop',
      'stopall',
      'stop all',
      'unsubscribe',
      'cancel',
      'end',
      'quit',
      'revoke',
      'optout',
      'opt-out',
      'remove',
      'stop promotions',
    ],
    source:
      "Twilio's default opt-out keywords (Advanced Opt-Out docs: STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT, CANCEL); OPT-OUT and REMOVE from AWS End User Messaging's required list; STOP ALL from Telnyx's defaults; \"Stop promotions\", the label of Meta's marketing opt-out button, typed",
  },
  {
    language: 'hi',
    name: 'Hindi (India), Devanagari and romanized',
    words: ['बंद', 'बंद करो', 'बंद करें', 'रोको', 'रोकें', 'band karo', 'bandh karo', 'band karen', 'band karein'],
    source:
      'No regulator prescribes a Hindi keyword (Indian senders write STOP, kept above): the plain words for "turn off"/"stop" (बंद करो, रोको), as typed in Devanagari and on Latin keyboards (Hinglish)',
  },
  {
    language: 'ur',
    name: 'Urdu (Pakistan)',
    words: ['بند', 'بند کرو', 'بند کریں', 'روکیں'],
    source:
      'The plain words for "turn off"/"stop" (بند کریں, روکیں); romanized Urdu is the same as romanized Hindi above',
  },
  {
    language: 'id',
    name: 'Indonesian (Indonesia)',
    words: ['berhenti', 'unreg'],
    source:
      'BERHENTI is "stop"; UNREG is the keyword Indonesian SMS subscription services have long taken for unsubscribing ("ketik UNREG …")',
  },
  {
    language: 'pt',
    name: 'Portuguese (Brazil)',
    words: ['sair', 'parar', 'pare', 'cancelar', 'descadastrar'],
    source:
      "Brazilian carriers' opt-out word SAIR (Claro 888, Oi 55555, TIM 4112, Vivo 457); PARAR/PARE (stop; PARE is Brazil's stop sign) and CANCELAR in Brazilian SMS footers; DESCADASTRAR (unregister) in Brazilian e-mail and SMS footers",
  },
  {
    language: 'es',
    name: 'Spanish (Mexico, Spain, Latin America)',
    words: [
      'baja',
      'dar de baja',
      'darme de baja',
      'cancelar',
      'cancelación',
      'salir',
      'parar',
      'detener',
      'desuscribir',
      'desuscribirme',
    ],
    source:
      'MMA guidelines as published in Spanish (STOP, CANCELAR, BAJA), Movistar Spain\'s BAJA, Ecuador\'s ARCOTEL rules ("enviar la palabra salir"); DAR DE BAJA is the phrase BAJA stands for; PARAR and DETENER are the verbs for stop, DESUSCRIBIR(ME) for unsubscribe (me)',
  },
  {
    language: 'ru',
    name: 'Russian',
    words: ['стоп', 'отписаться', 'отписка'],
    source: 'Russian operators and SMS services take STOP/СТОП; отписаться / отписка = "unsubscribe"',
  },
  {
    language: 'tr',
    name: 'Turkish (Turkey)',
    words: ['ret', 'iptal'],
    source:
      'RET is the refusal keyword of İYS, the Ministry of Trade\'s message management system ("RET <brand>" to 3338, as Turkish commercial SMS footers say); IPTAL, the keyword many senders took before İYS',
  },
  {
    language: 'de',
    name: 'German (Germany)',
    words: ['stopp', 'abmelden', 'abbestellen'],
    source:
      'STOPP is the German spelling of STOP; ABMELDEN (sign off) and ABBESTELLEN (cancel a subscription) are the German words for unsubscribing',
  },
  {
    language: 'it',
    name: 'Italian (Italy)',
    words: ['disiscrivi', 'disiscrivimi', 'cancellami'],
    source:
      'STOP is used as is (kept above); DISISCRIVI(MI) = unsubscribe (me), CANCELLAMI = delete me: verbs with no everyday reply sense',
  },
  {
    language: 'fr',
    name: 'French (France, Canada, West Africa)',
    words: ['arret', 'arrete', 'arrett', 'desabonner', 'desinscrire'],
    source:
      'French commercial SMS end with "STOP au …" (kept above); ARRET, ARRETE and ARRETT from Twilio\'s opt-out handling (Proxy docs, "Opt-out keywords") and ARRET from AWS End User Messaging\'s required list (Canada\'s bilingual rules); DÉSABONNER/DÉSINSCRIRE = unsubscribe',
  },
  {
    language: 'ar',
    name: 'Arabic (Egypt, Gulf, Maghreb)',
    words: ['إلغاء', 'إلغاء الاشتراك', 'إيقاف', 'توقف'],
    source:
      'Arabic senders (Gulf, Egypt) ask for إلغاء / إيقاف; as handled by public WhatsApp bots: إلغاء (cancel), إلغاء الاشتراك (unsubscribe), إيقاف (stopping), توقف (stop)',
  },
  {
    language: 'sw',
    name: 'Swahili (Kenya, Tanzania)',
    words: ['sitisha', 'ondoa'],
    source:
      'Kenyan and Nigerian senders ask for STOP (kept above); SITISHA (stop, suspend) and ONDOA (remove) are the plain Swahili verbs',
  },
  {
    language: 'he',
    name: 'Hebrew (Israel)',
    words: ['הסר', 'הסרה', 'להסרה', 'הסירו', 'עצור'],
    source:
      'Israel\'s spam law (Communications Law §30A) requires a way to refuse; senders\' footers say "להסרה השב הסר" (reply הסר to be removed), so הסר is the word people know; עצור = "stop"',
  },
];

/*
 * Opt-in is stricter than opt-out: a wrong opt-out costs a subscriber, a wrong opt-in sends
 * marketing to someone who refused it. YES is out (Twilio's default opt-in list has it), because in a
 * WhatsApp conversation "yes" answers any question. Left out as ambiguous: Spanish "alta" (also
 * "high"/"tall"), Portuguese "voltar"/"assinar" (come back / sign), Hebrew "הרשמה"/"התחל"
 * (registration for what the ad offers / start), Arabic "اشتراك"/"تفعيل" (subscribing to or
 * activating the advertised service), Indonesian "mulai" (begin). Those contacts can send START.
 */
export const OPT_IN_LISTS: readonly KeywordList[] = [
  {
    language: 'en',
    name: 'English',
    words: ['start', 'unstop'],
    source: "Twilio's default opt-in keywords (START, YES, UNSTOP), without YES",
  },
  {
    language: 'ru',
    name: 'Russian',
    words: ['старт', 'подписаться'],
    source: 'СТАРТ is START transliterated, the counterpart of СТОП; подписаться = "subscribe"',
  },
  {
    language: 'es',
    name: 'Spanish',
    words: ['suscribirme'],
    source: '"subscribe me", a verb with no other everyday sense',
  },
];

function normalizedList(lists: readonly KeywordList[]): readonly string[] {
  return Object.freeze([...new Set(lists.flatMap((l) => l.words).map(normalizeKeyword))]);
}

/** Every opt-out word of OPT_OUT_LISTS, normalized (see normalizeKeyword). */
export const OPT_OUT_KEYWORDS: readonly string[] = normalizedList(OPT_OUT_LISTS);
/** Every opt-in word of OPT_IN_LISTS, normalized (see normalizeKeyword). */
export const OPT_IN_KEYWORDS: readonly string[] = normalizedList(OPT_IN_LISTS);

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
