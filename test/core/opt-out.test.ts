import { describe, expect, it } from 'vitest';
import {
  contactIntent,
  normalizeKeyword,
  OPT_IN_KEYWORDS,
  OPT_IN_LISTS,
  OPT_OUT_KEYWORDS,
  OPT_OUT_LISTS,
} from '../../functions/core/opt-out.ts';

const typed = (body: string) => contactIntent({ body });

describe('normalizeKeyword', () => {
  it.each([
    [' STOP! ', 'stop'],
    ['Stop.', 'stop'],
    ['🛑 stop 🛑', 'stop'],
    ['STOP', 'stop'], // full-width letters (NFKC)
    ['Opt-Out', 'opt out'],
    ['opt_out', 'opt out'],
    ['stop   all', 'stop all'],
    ['stop — all', 'stop all'],
    ['CANCELACIÓN', 'cancelacion'],
    ['PARÁR', 'parar'],
    ['Cancelaci\u0301on', 'cancelacion'], // decomposed accent
    ['הָסֵר', 'הסר'], // niqqud
    ['\u200Fהסר\u200F', 'הסר'], // right-to-left marks around the word
    ['أَلْغَاء', 'الغاء'], // harakat and alef with hamza
    ['إلغاء', 'الغاء'],
    ['آلغاء', 'الغاء'],
    ['ٱلغاء', 'الغاء'], // alef wasla
    ['تـــوقـف', 'توقف'], // tatweel
    ['رسالة', 'رساله'], // ta marbuta folds to ha
    ['على', 'علي'], // alef maqsura folds to ya
    ['СТОП!!!', 'стоп'],
    ['  ', ''],
  ])('%j → %j', (input, expected) => {
    expect(normalizeKeyword(input)).toBe(expected);
  });

  it('exports the keyword lists in normalized form, without overlap', () => {
    for (const keyword of [...OPT_OUT_KEYWORDS, ...OPT_IN_KEYWORDS])
      expect(normalizeKeyword(keyword)).toBe(keyword);
    expect(OPT_OUT_KEYWORDS.filter((k) => OPT_IN_KEYWORDS.includes(k))).toEqual([]);
    expect(new Set(OPT_OUT_KEYWORDS).size).toBe(OPT_OUT_KEYWORDS.length);
  });
});

describe('typed opt-out keywords, per language', () => {
  it.each([
    // English (Twilio defaults, AWS, Telnyx)
    ['STOP', 'stop'],
    ['stop', 'stop'],
    [' STOP! ', 'stop'],
    ['Stop.', 'stop'],
    ['StopAll', 'stopall'],
    ['STOP ALL', 'stop all'],
    ['Unsubscribe', 'unsubscribe'],
    ['cancel', 'cancel'],
    ['END', 'end'],
    ['Quit!', 'quit'],
    ['OPTOUT', 'optout'],
    ['opt-out', 'opt out'],
    ['Opt out', 'opt out'],
    ['REVOKE', 'revoke'],
    ['remove', 'remove'],
    ['Stop promotions', 'stop promotions'],
    ['🙅 STOP 🙅‍♀️', 'stop'],
    // Hebrew
    ['הסר', 'הסר'],
    [' הסר. ', 'הסר'],
    ['הָסֵר', 'הסר'],
    ['הסרה', 'הסרה'],
    ['להסרה', 'להסרה'],
    ['הסירו', 'הסירו'],
    ['עצור!', 'עצור'],
    // Spanish
    ['BAJA', 'baja'],
    ['Baja.', 'baja'],
    ['cancelar', 'cancelar'],
    ['Cancelación', 'cancelacion'],
    ['CANCELACION', 'cancelacion'],
    ['Salir', 'salir'],
    ['¡PARAR!', 'parar'],
    // Portuguese
    ['SAIR', 'sair'],
    ['Parar', 'parar'],
    ['PARÁR', 'parar'],
    ['Cancelar.', 'cancelar'],
    // Russian
    ['СТОП', 'стоп'],
    ['стоп!', 'стоп'],
    ['Отписаться', 'отписаться'],
    ['ОТПИСКА', 'отписка'],
    // Arabic
    ['إلغاء', 'الغاء'],
    ['الغاء', 'الغاء'],
    ['أَلْغَاء', 'الغاء'],
    ['إلغاء الاشتراك', 'الغاء الاشتراك'],
    ['الغاء  الاشتراك', 'الغاء الاشتراك'],
    ['إيقاف', 'ايقاف'],
    ['ايقاف', 'ايقاف'],
    ['توقف', 'توقف'],
    ['تـوقـف!', 'توقف'],
    ['توقف؟', 'توقف'],
  ])('%j opts out (%s)', (body, keyword) => {
    expect(typed(body)).toEqual({ kind: 'opt_out', via: 'keyword', keyword });
  });

  it.each([
    // Hindi, Devanagari (vowel signs are letters: they stay) and romanized
    ['बंद', 'बंद'],
    ['बंद करो', 'बंद करो'],
    ['बंद करें।', 'बंद करें'],
    ['रोको', 'रोको'],
    ['रोकें', 'रोकें'],
    ['Band karo', 'band karo'],
    ['BANDH KARO!', 'bandh karo'],
    ['band karein', 'band karein'],
    // Urdu (Persian yeh and keheh fold like Arabic's)
    ['بند', 'بند'],
    ['بند کریں', 'بند كريں'],
    ['روکیں', 'روكيں'],
    // Indonesian
    ['BERHENTI', 'berhenti'],
    ['Unreg', 'unreg'],
    // Portuguese (Brazil)
    ['PARE', 'pare'],
    ['Descadastrar', 'descadastrar'],
    // Spanish (Mexico)
    ['Detener', 'detener'],
    ['dar de baja', 'dar de baja'],
    ['Darme de baja.', 'darme de baja'],
    ['DESUSCRIBIRME', 'desuscribirme'],
    // Turkish (İYS)
    ['RET', 'ret'],
    ['İPTAL', 'iptal'],
    ['iptal', 'iptal'],
    // German
    ['STOPP', 'stopp'],
    ['Abmelden', 'abmelden'],
    ['abbestellen', 'abbestellen'],
    // Italian
    ['Disiscrivimi', 'disiscrivimi'],
    ['CANCELLAMI', 'cancellami'],
    // French
    ['ARRÊT', 'arret'],
    ['Arrête', 'arrete'],
    ['ARRETT', 'arrett'],
    ['Désabonner', 'desabonner'],
    // Swahili
    ['SITISHA', 'sitisha'],
    ['Ondoa', 'ondoa'],
  ])('%j opts out (%s)', (body, keyword) => {
    expect(typed(body)).toEqual({ kind: 'opt_out', via: 'keyword', keyword });
  });

  it.each([
    ['*STOP*', 'WhatsApp bold'],
    ['_stop_', 'WhatsApp italic'],
    ['~STOP~', 'WhatsApp strikethrough'],
    ['```STOP```', 'WhatsApp monospace'],
    ['"STOP"', 'quoted'],
    ['/stop', 'a bot command'],
    ['𝐒𝐓𝐎𝐏', 'mathematical bold letters'],
    ['ＳＴＯＰ', 'full-width letters'],
    ['\u200FSTOP\u200E', 'direction marks'],
    ['\u00A0STOP\u00A0\n', 'no-break spaces and a line break'],
    ['StOp 🛑', 'mixed case and an emoji'],
  ])('%j opts out: %s', (body) => {
    expect(typed(body)).toEqual({ kind: 'opt_out', via: 'keyword', keyword: 'stop' });
  });

  it('every word of every list opts out, in upper case with punctuation around it', () => {
    for (const list of OPT_OUT_LISTS)
      for (const word of list.words)
        expect(typed(` ${word.toUpperCase()}! `), `${list.language}: ${word}`).toMatchObject({
          kind: 'opt_out',
        });
  });

  it("names a source for every list, and covers the languages of WhatsApp's largest markets", () => {
    for (const list of [...OPT_OUT_LISTS, ...OPT_IN_LISTS]) {
      expect(list.source.length, list.language).toBeGreaterThan(20);
      expect(list.words.length, list.language).toBeGreaterThan(0);
    }
    expect(OPT_OUT_LISTS.map((l) => l.language).sort()).toEqual(
      ['ar', 'de', 'en', 'es', 'fr', 'he', 'hi', 'id', 'it', 'pt', 'ru', 'sw', 'tr', 'ur'].sort(),
    );
  });
});

describe('typed opt-in keywords', () => {
  it.each([
    ['START', 'start'],
    [' Start! ', 'start'],
    ['unstop', 'unstop'],
    ['Старт', 'старт'],
    ['подписаться', 'подписаться'],
    ['Suscribirme', 'suscribirme'],
  ])('%j opts in (%s)', (body, keyword) => {
    expect(typed(body)).toEqual({ kind: 'opt_in', keyword });
  });

  it.each([
    'YES',
    'yes',
    'Yes!',
    'sí',
    'כן',
    'نعم',
    'да',
    'sim',
    'alta',
    'mulai',
    'haan',
    'evet',
    'ja',
    'oui',
  ])('%j is an ordinary reply, not an opt-in', (body) => {
    expect(typed(body)).toBeUndefined();
  });
});

describe('sentences and other text are not keywords', () => {
  it.each([
    'please stop sending me this',
    "don't stop",
    'stop it please',
    'STOP STOP',
    'unsubscribe me',
    'I want to cancel my order',
    'the end',
    'start the engine',
    'stopping',
    'הסר אותי בבקשה',
    'אל תעצור',
    'quiero darme de baja',
    'no quiero salir',
    'quero sair da lista',
    'не стоп',
    'пожалуйста, отпишите меня',
    'لا تتوقف',
    'أريد إلغاء الطلب',
    'hello',
    // Everyday replies that look like opt-out words in another language (see opt-out.ts).
    'acha',
    'achha',
    'Accha',
    'td',
    'alto',
    'basta',
    'dur',
    'band',
    'ok',
    'बद',
    'stop karo mat',
    'RET ediyorum',
    '👍',
    '',
    '   ',
  ])('%j → nothing', (body) => {
    expect(typed(body)).toBeUndefined();
  });

  it('reads nothing from an empty message', () => {
    expect(contactIntent({})).toBeUndefined();
  });
});

describe('button taps', () => {
  it.each([
    ['opt_out', 'opt out'],
    ['OPT_OUT', 'opt out'],
    ['optout', 'optout'],
    ['unsubscribe', 'unsubscribe'],
    ['stop_promotions', 'stop promotions'],
    ['STOP', 'stop'],
    ['opt-out', 'opt out'],
    ['הסר', 'הסר'],
  ])('payload %j opts out by button', (buttonPayload, keyword) => {
    expect(contactIntent({ buttonPayload, buttonText: 'Whatever', body: 'Whatever' })).toEqual({
      kind: 'opt_out',
      via: 'button',
      keyword,
    });
  });

  it.each(['Stop promotions', 'STOP PROMOTIONS', 'stop promotions'])(
    'Meta\'s "Stop promotions" button (%j) opts out, with or without a payload',
    (buttonText) => {
      const expected = { kind: 'opt_out', via: 'button', keyword: 'stop promotions' };
      expect(contactIntent({ buttonText, body: buttonText })).toEqual(expected);
      expect(contactIntent({ buttonText, buttonPayload: 'meta_opaque_123', body: buttonText })).toEqual(
        expected,
      );
    },
  );

  it('never opts in by button, even when the button says START', () => {
    expect(contactIntent({ buttonPayload: 'start', buttonText: 'Start', body: 'Start' })).toBeUndefined();
    expect(contactIntent({ buttonPayload: 'resume', buttonText: 'START', body: 'START' })).toBeUndefined();
    expect(contactIntent({ buttonText: 'Start', body: 'Start' })).toBeUndefined();
  });

  it('leaves any other tap to another module, whatever its text says', () => {
    expect(contactIntent({ buttonPayload: 'confirm', buttonText: 'Yes', body: 'Yes' })).toBeUndefined();
    // A "Cancel" quick reply cancels the appointment it answers, not the subscription.
    expect(
      contactIntent({ buttonPayload: 'appt_cancel', buttonText: 'Cancel', body: 'Cancel' }),
    ).toBeUndefined();
    expect(contactIntent({ buttonPayload: 'x', buttonText: 'STOP', body: 'STOP' })).toBeUndefined();
  });

  it('decides by the button first: an opt-out payload wins over an opt-in body', () => {
    expect(contactIntent({ buttonPayload: 'opt_out', body: 'START' })).toEqual({
      kind: 'opt_out',
      via: 'button',
      keyword: 'opt out',
    });
  });

  it('treats an empty payload and button text as no tap, so the body decides', () => {
    expect(contactIntent({ buttonPayload: '', buttonText: ' ', body: 'STOP' })).toEqual({
      kind: 'opt_out',
      via: 'keyword',
      keyword: 'stop',
    });
    expect(contactIntent({ buttonPayload: '', body: 'START' })).toEqual({ kind: 'opt_in', keyword: 'start' });
  });
});
