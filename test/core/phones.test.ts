import { describe, expect, it } from 'vitest';
import {
  isValidCountryCode,
  maskPhone,
  normalizePhone,
  normalizeRecipients,
  stripWhatsAppPrefix,
  toWhatsAppAddress,
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
