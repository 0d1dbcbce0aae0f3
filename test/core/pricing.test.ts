import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE, estimateCost, priceTableFrom } from '../../functions/core/pricing.ts';

describe('estimateCost', () => {
  it("charges Meta's rate for the category and country plus Twilio's fee, dearest country first", () => {
    const estimate = estimateCost(
      DEFAULT_PRICE_TABLE,
      'UTILITY',
      new Map([
        ['IL', 1000],
        ['US', 10],
      ]),
    );
    // IL utility 0.0053 + 0.005 = 0.0103 × 1000 = 10.30; US utility 0.004 + 0.005 = 0.009 × 10 = 0.09.
    expect(estimate.byCountry).toEqual([
      { country: 'IL', recipients: 1000, ratePerMessage: 0.0103, amount: 10.3 },
      { country: 'US', recipients: 10, ratePerMessage: 0.009, amount: 0.09 },
    ]);
    expect(estimate.amount).toBe(10.39);
    expect(estimate.currency).toBe('USD');
    expect(estimate.source).toContain('developers.facebook.com/docs/whatsapp/pricing');
  });

  it('charges a country Meta does not name at the "Other" rate, and an unknown category as marketing', () => {
    const estimate = estimateCost(DEFAULT_PRICE_TABLE, null, new Map([['KE', 100]]));
    // Other marketing 0.0604 + 0.005 = 0.0654 × 100.
    expect(estimate.byCountry[0]).toMatchObject({ country: 'KE', ratePerMessage: 0.0654, amount: 6.54 });
    expect(estimate.category).toBeNull();
  });
});

describe('priceTableFrom (WHATSAPP_PRICES)', () => {
  it('uses the default table when unset or blank', () => {
    expect(priceTableFrom(undefined)).toBe(DEFAULT_PRICE_TABLE);
    expect(priceTableFrom('  ')).toBe(DEFAULT_PRICE_TABLE);
  });

  it('takes a whole table of your own rates', () => {
    const table = priceTableFrom(
      JSON.stringify({
        source: 'our Twilio invoice, 2026-11',
        countries: { IL: { MARKETING: 0.03, UTILITY: 0.004, AUTHENTICATION: 0.004 } },
        otherCountries: { MARKETING: 0.05, UTILITY: 0.01, AUTHENTICATION: 0.01 },
        providerFeePerMessage: 0,
      }),
    );
    expect(estimateCost(table, 'MARKETING', new Map([['IL', 100]])).amount).toBe(3);
  });

  it('refuses a table it cannot use, naming the problem', () => {
    expect(() => priceTableFrom('{')).toThrow('WHATSAPP_PRICES is not JSON');
    expect(() =>
      priceTableFrom(
        JSON.stringify({ source: 'x', countries: { il: {} }, otherCountries: {}, providerFeePerMessage: 0 }),
      ),
    ).toThrow(/countries\.il|otherCountries/);
  });
});
