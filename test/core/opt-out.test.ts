import { describe, expect, it } from 'vitest';
import {
  contactIntent,
  normalizeKeyword,
  OPT_IN_KEYWORDS,
  OPT_OUT_KEYWORDS,
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

  it.each(['YES', 'yes', 'Yes!', 'sí', 'כן', 'نعم', 'да', 'sim', 'alta'])(
    '%j is an ordinary reply, not an opt-in',
    (body) => {
      expect(typed(body)).toBeUndefined();
    },
  );
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
