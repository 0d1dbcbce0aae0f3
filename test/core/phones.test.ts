import { describe, expect, it } from 'vitest';
import {
  foldPhoneText,
  isValidCountryCode,
  maskPhone,
  normalizePhone,
  normalizeRecipients,
  sameWhatsAppIdentity,
  stripWhatsAppPrefix,
  toWhatsAppAddress,
  whatsAppIdentity,
} from '../../functions/core/phones.ts';

const one = (input: string, cc?: string) => normalizePhone(input, cc);

describe('normalizePhone: accepted formats', () => {
  it('050-123-4568 with IL becomes +972501234568', () => {
    expect(one('050-123-4568', 'IL')).toEqual({ ok: true, phone: '+972501234568' });
  });

  it('keeps E.164 as it is', () => {
    expect(one('+972501234567')).toEqual({ ok: true, phone: '+972501234567' });
  });

  it('accepts spaces, dashes, dots, parentheses, a whatsapp: prefix and a leading 00', () => {
    for (const input of [
      '+972 50 123 4567',
      '+972-50-123-4567',
      '(050) 123.4567',
      'whatsapp:+972501234567',
      'WhatsApp:+972501234567',
      '00972501234567',
      '00 972 50 123 4567',
      '  +972501234567  ',
    ]) {
      expect(one(input, 'IL'), input).toEqual({ ok: true, phone: '+972501234567' });
    }
  });

  it('reads the leading 00 as international without a default country too', () => {
    expect(one('00254712345678')).toEqual({ ok: true, phone: '+254712345678' });
  });

  it('a + number ignores the default country', () => {
    expect(one('+254712345678', 'IL')).toEqual({ ok: true, phone: '+254712345678' });
  });

  it('accepts mobiles of other countries, and numbers whose type cannot be told apart (US)', () => {
    expect(one('0712 345 678', 'KE')).toEqual({ ok: true, phone: '+254712345678' });
    expect(one('+91 98765 43210')).toEqual({ ok: true, phone: '+919876543210' });
    expect(one('(415) 555-0100', 'US')).toEqual({ ok: true, phone: '+14155550100' });
  });

  it('accepts Arabic-Indic digits', () => {
    expect(one('٠٥٠١٢٣٤٥٦٧', 'IL')).toEqual({ ok: true, phone: '+972501234567' });
  });
});

describe('normalizePhone: reasons', () => {
  it('too short', () => {
    expect(one('123', 'IL')).toEqual({ ok: false, reason: 'too_short' });
    expect(one('123')).toEqual({ ok: false, reason: 'too_short' });
    expect(one('+97250123')).toEqual({ ok: false, reason: 'too_short' });
  });

  it('too long', () => {
    expect(one('+97250123456789012')).toEqual({ ok: false, reason: 'too_long' });
    expect(one('050 1234 5678 9012 3456', 'IL')).toEqual({ ok: false, reason: 'too_long' });
    expect(one(`+${'1'.repeat(100)}`)).toEqual({ ok: false, reason: 'too_long' });
  });

  it('letters and garbage are invalid_format', () => {
    for (const input of [
      'abc',
      '+972-50-ABC-1234',
      '+1 800 FLOWERS',
      '+972501234567 ext. 12',
      '',
      '   ',
      '---',
      '+',
      '97+2501234567',
      'whatsapp:',
    ]) {
      expect(one(input, 'IL'), input).toEqual({ ok: false, reason: 'invalid_format' });
    }
  });

  it('national format without a usable default country is invalid_country', () => {
    expect(one('050-123-4568')).toEqual({ ok: false, reason: 'invalid_country' });
    expect(normalizeRecipients(['050-123-4568'], 'XX').invalid[0]?.reason).toBe('invalid_country');
  });

  it('an unknown country calling code is invalid_country', () => {
    expect(one('+999123456789')).toEqual({ ok: false, reason: 'invalid_country' });
  });

  it('a known landline is not_mobile', () => {
    expect(one('03-123-4567', 'IL')).toEqual({ ok: false, reason: 'not_mobile' });
    expect(one('+44 20 7946 0958')).toEqual({ ok: false, reason: 'not_mobile' });
    expect(one('+1 800 555 0100')).toEqual({ ok: false, reason: 'not_mobile' });
  });
});

describe('normalizePhone: what copy-paste and spreadsheets carry (issue 10)', () => {
  // An Israeli mobile in Hot Mobile's 053 range.
  const IL = '+972531234567';

  it.each([
    ['\u202A+972 53-123-4567\u202C', 'LRE … PDF around it (phone contacts apps)'],
    ['\u200E+972531234567', 'a left-to-right mark before it (PDFs, chat apps)'],
    ['+972531234567\u200B', 'a zero-width space after it'],
    ['\u2066+972 53 123 4567\u2069', 'LRI … PDI isolates'],
    ['\u200F\u061C+972531234567', 'a right-to-left mark and an Arabic letter mark'],
    ['\uFEFF+972531234567', 'a BOM (the first cell of a UTF-8 CSV)'],
    ['+972\u00AD53\u2060123\u200D4567', 'a soft hyphen, word joiner and zero-width joiner inside'],
  ])('%j is one valid number: %s', (input) => {
    expect(one(input)).toEqual({ ok: true, phone: IL });
  });

  // A numeric spreadsheet column drops a national number's leading 0 (0501234567 → 501234567):
  // libphonenumber reads a national number with or without its national prefix, so the number
  // imports with its country (issue 12, CSV import). Checked for the markets the product serves.
  it.each([
    ['531234567', 'IL', IL],
    ['7911123456', 'GB', '+447911123456'],
    ['712345678', 'KE', '+254712345678'],
    ['612345678', 'FR', '+33612345678'],
    ['15123456789', 'DE', '+4915123456789'],
    ['8031234567', 'NG', '+2348031234567'],
  ])('%j with %s: a national mobile that lost its leading zero', (input, country, phone) => {
    expect(one(input, country)).toEqual({ ok: true, phone });
  });

  it.each([
    ['+972\u00A053\u00A0123\u00A04567', 'no-break spaces'],
    ['+972\u202F53\u202F123\u202F4567', 'narrow no-break spaces (French formatting)'],
    ['+972\u200953\u2007123\u20034567', 'thin, figure and em spaces'],
    ['+972\u300053\u3000123\u30004567', 'ideographic spaces'],
    ['+972\t53\n123\r\n4567', 'tabs and line breaks'],
    ['+972\u201053\u2011123\u20124567', 'hyphen, non-breaking hyphen, figure dash'],
    ['+972\u201353\u2014123\u22124567', 'en dash, em dash, minus sign'],
    ['+972\uFE6353\uFF0D123\u2E3A4567', 'small and full-width hyphen-minus, two-em dash'],
    ['＋９７２－５３－１２３－４５６７', 'full-width plus, digits and hyphens (East Asian keyboards)'],
    ['（＋９７２）５３　１２３　４５６７', 'full-width parentheses and ideographic spaces'],
    ['\uFE62972531234567', 'a small plus sign'],
    ['➕972531234567', 'a heavy plus sign (emoji keyboard)'],
    ['+९७२५३१२३४५६७', 'Devanagari digits'],
    ['+৯৭২৫৩১২৩৪৫৬৭', 'Bengali digits'],
    ['+٩٧٢٥٣١٢٣٤٥٦٧', 'Arabic-Indic digits'],
    ['+۹۷۲۵۳۱۲۳۴۵۶۷', 'Extended Arabic-Indic (Persian, Urdu) digits'],
    ['+𝟗𝟕𝟐𝟓𝟑𝟏𝟐𝟑𝟒𝟓𝟔𝟕', 'mathematical bold digits (styled text generators)'],
    ["'+972531234567", "Excel's leading apostrophe (stored as text)"],
    ['="+972531234567"', 'a text formula (CSV exports that keep the +)'],
    ['tel:+972-53-123-4567', 'a tel: link (RFC 3966, vCards)'],
    ['(+972) 53 123 4567', 'the country code in parentheses'],
    ['972531234567.0', 'a float printed in full (pandas, numeric CSV columns), with IL'],
  ])('%j is one valid number: %s', (input) => {
    expect(one(input, 'IL')).toEqual({ ok: true, phone: IL });
  });

  it('folds to plain ASCII, leaving the separators for the parser', () => {
    expect(foldPhoneText('\u202A＋９７２\u00A053–123\u200B4567\u202C')).toBe('+972 53-1234567');
    expect(foldPhoneText('whatsapp:+972531234567')).toBe('+972531234567');
  });

  it.each([
    '9.72537E+11',
    '9,72537E+11',
    '9.72537e11',
    '9.72537E11',
    '9.72537 E+11',
    '+9.72537E+11',
    '９．７２５３７Ｅ＋１１',
  ])('a spreadsheet float %j is scientific_notation (its digits are gone)', (input) => {
    expect(one(input, 'IL')).toEqual({ ok: false, reason: 'scientific_notation' });
    expect(one(input)).toEqual({ ok: false, reason: 'scientific_notation' });
  });

  it('reports scientific_notation in the recipients list, with its position', () => {
    const out = normalizeRecipients(['+972531234567', '9.72537E+11'], 'IL');
    expect(out.invalid).toEqual([{ input: '9.72537E+11', reason: 'scientific_notation', index: 1 }]);
  });

  it('still refuses letters hidden among the marks, and inputs far too long', () => {
    expect(one('\u200E+972 53 ABC 4567')).toEqual({ ok: false, reason: 'invalid_format' });
    expect(one(`+972531234567${'\u200B'.repeat(2000)}`)).toEqual({ ok: false, reason: 'too_long' });
  });
});

describe('normalizePhone: national mobile prefixes (Mexico, Argentina, Brazil)', () => {
  // Mexico City (55) mobile, Buenos Aires (11) and Rosario (341) mobiles, Curitiba (41) mobile.
  const MX = '+525512345678';
  const AR = '+5491123456789';
  const BR = '+5541987654321';

  it.each([
    ['+52 1 55 1234 5678'],
    ['+5215512345678'],
    ['whatsapp:+5215512345678'],
    ['+52 55 1234 5678'],
    ['0052 1 55 1234 5678'],
  ])('Mexico %j → +52 55 1234 5678 (the 1 dropped since 2019)', (input) => {
    expect(one(input)).toEqual({ ok: true, phone: MX });
  });

  it.each([
    ['1 55 1234 5678'],
    ['044 55 1234 5678'],
    ['045 55 1234 5678'],
    ['01 55 1234 5678'],
    ['55 1234 5678'],
  ])('Mexico national %j with MX → +52 55 1234 5678', (input) => {
    expect(one(input, 'MX')).toEqual({ ok: true, phone: MX });
  });

  it('a Mexican number of the wrong length is still refused', () => {
    expect(one('+52 1 55 1234 56789')).toEqual({ ok: false, reason: 'too_long' });
    expect(one('+52 55 1234 567')).toEqual({ ok: false, reason: 'too_short' });
  });

  it.each([
    ['+54 9 11 2345 6789', AR],
    ['+54 11 2345 6789', AR], // without the mobile 9 WhatsApp needs
    ['+54 11 15 2345 6789', AR], // the national 15 kept in an international number
    ['+54 9 11 15 2345 6789', AR], // both
    ['+54 341 15 523 4567', '+5493415234567'],
    ['+54 9 341 15 523 4567', '+5493415234567'],
  ])('Argentina %j → %s', (input, expected) => {
    expect(one(input)).toEqual({ ok: true, phone: expected });
  });

  it.each([['011 15 2345 6789'], ['11 15 2345 6789'], ['011 2345 6789'], ['9 11 2345 6789']])(
    'Argentina national %j with AR → +54 9 11 2345 6789',
    (input) => {
      expect(one(input, 'AR')).toEqual({ ok: true, phone: AR });
    },
  );

  it('an Argentine toll-free number is still not_mobile', () => {
    expect(one('+54 800 123 4567')).toEqual({ ok: false, reason: 'not_mobile' });
  });

  it.each([
    ['+55 41 9 8765 4321', BR],
    ['+55 41 8765 4321', BR], // 12 digits: before the ninth digit
    ['+55 11 7123 4567', '+5511971234567'],
    ['+55 21 6123 4567', '+5521961234567'],
  ])('Brazil %j → %s (with the ninth digit)', (input, expected) => {
    expect(one(input)).toEqual({ ok: true, phone: expected });
  });

  it.each([['(41) 98765-4321'], ['(41) 8765-4321'], ['041 98765-4321'], ['0 21 41 98765 4321']])(
    'Brazil national %j with BR → +55 41 9 8765 4321',
    (input) => {
      expect(one(input, 'BR')).toEqual({ ok: true, phone: BR });
    },
  );

  it('a Brazilian fixed line keeps its 8 digits and stays not_mobile', () => {
    expect(one('+55 41 3333 4444')).toEqual({ ok: false, reason: 'not_mobile' });
    expect(whatsAppIdentity('+554133334444')).toBe('+554133334444');
  });

  it('every form of one person is one recipient (duplicates)', () => {
    const out = normalizeRecipients(['+52 55 1234 5678', '+52 1 55 1234 5678', '1 55 1234 5678'], 'MX');
    expect(out.accepted.map((r) => r.phone)).toEqual([MX]);
    expect(out.duplicateCount).toBe(2);
  });
});

describe('whatsAppIdentity: one form for sending and comparing', () => {
  it.each([
    ['+5215512345678', '+525512345678'],
    ['whatsapp:+5215512345678', '+525512345678'],
    ['+525512345678', '+525512345678'],
    ['+541123456789', '+5491123456789'],
    ['+5491123456789', '+5491123456789'],
    ['+548001234567', '+548001234567'], // toll-free: not a mobile form
    ['+554187654321', '+5541987654321'],
    ['whatsapp:+554187654321', '+5541987654321'],
    ['+5541987654321', '+5541987654321'],
    ['+554133334444', '+554133334444'], // fixed line
    ['+972531234567', '+972531234567'],
    ['+14155238886', '+14155238886'],
    ['not a phone', 'not a phone'],
  ])('%j → %j', (input, expected) => {
    expect(whatsAppIdentity(input)).toBe(expected);
  });

  it('is what normalizePhone produces: applying it again changes nothing', () => {
    for (const input of ['+52 1 55 1234 5678', '+54 11 2345 6789', '+55 41 8765 4321', '+972531234567']) {
      const out = one(input);
      if (!out.ok) throw new Error(input);
      expect(whatsAppIdentity(out.phone)).toBe(out.phone);
    }
  });

  it('compares a Twilio From with the number we sent to', () => {
    expect(sameWhatsAppIdentity('whatsapp:+5215512345678', '+525512345678')).toBe(true);
    expect(sameWhatsAppIdentity('whatsapp:+554187654321', '+5541987654321')).toBe(true);
    expect(sameWhatsAppIdentity('whatsapp:+5491123456789', '+541123456789')).toBe(true);
    expect(sameWhatsAppIdentity('whatsapp:+5215512345679', '+525512345678')).toBe(false);
    expect(sameWhatsAppIdentity('+554133334444', '+5541933334444')).toBe(false);
  });
});

describe('normalizeRecipients', () => {
  it('reads the API.md example', () => {
    const out = normalizeRecipients(
      ['+972501234567', { phone: '050-123-4568', variables: { name: 'Dana' } }, '123', 'abc'],
      'IL',
    );
    expect(out.accepted).toEqual([
      { phone: '+972501234567', variables: {}, index: 0 },
      { phone: '+972501234568', variables: { name: 'Dana' }, index: 1 },
    ]);
    expect(out.invalid).toEqual([
      { input: '123', reason: 'too_short', index: 2 },
      { input: 'abc', reason: 'invalid_format', index: 3 },
    ]);
    expect(out.duplicateCount).toBe(0);
  });

  it('de-duplicates by E.164, keeping the first occurrence and its variables', () => {
    const out = normalizeRecipients(
      [
        { phone: '050-123-4568', variables: { name: 'Dana' } },
        '+972501234567',
        { phone: '+972 50 123 4568', variables: { name: 'Other' } },
        'whatsapp:+972501234568',
        '+972501234567',
      ],
      'IL',
    );
    // Each keeps its place in the request, so later checks can point at it.
    expect(out.accepted).toEqual([
      { phone: '+972501234568', variables: { name: 'Dana' }, index: 0 },
      { phone: '+972501234567', variables: {}, index: 1 },
    ]);
    expect(out.duplicateCount).toBe(3);
  });

  it('lists every invalid occurrence, with its position', () => {
    const out = normalizeRecipients(['abc', '+972501234567', 'abc'], 'IL');
    expect(out.invalid).toEqual([
      { input: 'abc', reason: 'invalid_format', index: 0 },
      { input: 'abc', reason: 'invalid_format', index: 2 },
    ]);
    expect(out.duplicateCount).toBe(0);
  });

  it('accepts a lower-case default country', () => {
    expect(normalizeRecipients(['050-123-4568'], 'il').accepted[0]?.phone).toBe('+972501234568');
  });

  it('does not share variables objects with the input', () => {
    const variables = { name: 'Dana' };
    const out = normalizeRecipients([{ phone: '+972501234567', variables }]);
    expect(out.accepted[0]?.variables).toEqual(variables);
    expect(out.accepted[0]?.variables).not.toBe(variables);
  });

  it('cuts a very long invalid input in the echo', () => {
    const out = normalizeRecipients(['x'.repeat(5000)]);
    expect(out.invalid[0]?.input).toHaveLength(100);
    expect(out.invalid[0]?.reason).toBe('too_long');
  });

  it('keeps input order and the counts add up over a 100,000-entry list', () => {
    const inputs: string[] = [];
    for (let i = 0; i < 50_000; i++) inputs.push(`+2547${String(i).padStart(8, '0')}`);
    for (let i = 0; i < 40_000; i++) inputs.push(`07${String(i).padStart(8, '0')}`); // same numbers, national
    for (let i = 0; i < 10_000; i++) inputs.push(`bad-${i}`);
    const out = normalizeRecipients(inputs, 'KE');
    expect(out.accepted).toHaveLength(50_000);
    expect(out.duplicateCount).toBe(40_000);
    expect(out.invalid).toHaveLength(10_000);
    expect(out.accepted[0]?.phone).toBe('+254700000000');
    expect(out.accepted[49_999]?.phone).toBe('+254700049999');
    expect(out.accepted.length + out.duplicateCount + out.invalid.length).toBe(inputs.length);
  });
});

describe('maskPhone and addresses', () => {
  it('masks all but the last 4 digits', () => {
    expect(maskPhone('+972501234567')).toBe('+********4567');
    expect(maskPhone('+14155238886')).toBe('+*******8886');
    expect(maskPhone('+1234')).toBe('+1234');
  });

  it('converts to and from Twilio WhatsApp addresses', () => {
    expect(toWhatsAppAddress('+972501234567')).toBe('whatsapp:+972501234567');
    expect(toWhatsAppAddress('whatsapp:+972501234567')).toBe('whatsapp:+972501234567');
    expect(stripWhatsAppPrefix('whatsapp:+972501234567')).toBe('+972501234567');
  });
});

describe('isValidCountryCode', () => {
  it('accepts supported ISO alpha-2 codes in upper case only', () => {
    for (const cc of ['IL', 'KE', 'US', 'GB', 'IN']) expect(isValidCountryCode(cc)).toBe(true);
    for (const cc of ['il', 'XX', 'ISR', '', '972', 'I']) expect(isValidCountryCode(cc)).toBe(false);
  });
});
