import { z } from 'zod';
import type { TemplateCategory } from './content-templates.ts';

export type { TemplateCategory };

/**
 * What a broadcast will cost, before it is sent (the dry run, POST /v1/broadcasts/preview).
 *
 * WhatsApp charges per delivered template message, by the template's category and the recipient's
 * country calling code (Meta, "Pricing on the WhatsApp Business Platform", per-message pricing since
 * 2025-07-01: https://developers.facebook.com/docs/whatsapp/pricing). Twilio adds its own fee per
 * message, sent or received ($0.005: https://www.twilio.com/en-us/whatsapp/pricing).
 *
 * The default table is Meta's list rates in USD for the markets it names, as published on its rate
 * card when this table was written (RATE_CARD_DATE); every other country is charged Meta's "Other"
 * rate here, which is an estimate (Meta groups them into regions whose rates differ). Rates change
 * several times a year and volume tiers lower utility and authentication rates, so the table is
 * configuration: WHATSAPP_PRICES (JSON, `PriceTableInput`) replaces it. The estimate is an upper bound
 * in one way (it charges every recipient, although undelivered messages are free) and a lower bound in
 * none: say so wherever it is shown.
 */

/** USD per delivered message, by category. */
export interface CategoryRates {
  readonly MARKETING: number;
  readonly UTILITY: number;
  readonly AUTHENTICATION: number;
}

export interface PriceTable {
  readonly currency: 'USD';
  /** Where the rates come from, and when they were read (shown with every estimate). */
  readonly source: string;
  /** ISO 3166-1 alpha-2 → Meta's rates for that market. */
  readonly countries: Readonly<Record<string, CategoryRates>>;
  /** Any country not listed. */
  readonly otherCountries: CategoryRates;
  /** The provider's fee on every message (Twilio: $0.005). */
  readonly providerFeePerMessage: number;
}

export const RATE_CARD_DATE = '2025-07-01';

const rates = (MARKETING: number, UTILITY: number, AUTHENTICATION: number): CategoryRates => ({
  MARKETING,
  UTILITY,
  AUTHENTICATION,
});

/** Meta's named markets (USD per delivered message: marketing, utility, authentication). */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  currency: 'USD',
  source: `Meta WhatsApp Business Platform rate card (list rates, USD, effective ${RATE_CARD_DATE}, https://developers.facebook.com/docs/whatsapp/pricing) + Twilio's $0.005 per message (https://www.twilio.com/en-us/whatsapp/pricing)`,
  countries: {
    AR: rates(0.0618, 0.026, 0.0367),
    BR: rates(0.0625, 0.0068, 0.0068),
    CL: rates(0.0889, 0.02, 0.0378),
    CO: rates(0.0125, 0.0002, 0.0077),
    EG: rates(0.1073, 0.0052, 0.0065),
    FR: rates(0.0859, 0.03, 0.0408),
    DE: rates(0.1365, 0.055, 0.0768),
    IN: rates(0.0107, 0.0014, 0.0014),
    ID: rates(0.0411, 0.025, 0.03),
    IL: rates(0.0353, 0.0053, 0.0053),
    IT: rates(0.0691, 0.03, 0.0375),
    MY: rates(0.086, 0.014, 0.018),
    MX: rates(0.0305, 0.0085, 0.0085),
    NL: rates(0.1597, 0.05, 0.0667),
    NG: rates(0.0516, 0.0067, 0.0067),
    PK: rates(0.0473, 0.0054, 0.0054),
    PE: rates(0.0703, 0.02, 0.0377),
    RU: rates(0.0802, 0.04, 0.0429),
    SA: rates(0.0455, 0.0115, 0.0107),
    ZA: rates(0.0379, 0.0076, 0.0076),
    ES: rates(0.0615, 0.02, 0.0322),
    TR: rates(0.0109, 0.0053, 0.0083),
    AE: rates(0.0384, 0.0157, 0.0178),
    GB: rates(0.0529, 0.022, 0.0358),
    // Meta's "North America" market.
    US: rates(0.025, 0.004, 0.0135),
    CA: rates(0.025, 0.004, 0.0135),
  },
  otherCountries: rates(0.0604, 0.0077, 0.0077),
  providerFeePerMessage: 0.005,
};

const Rate = z.number().min(0).max(10);
const RatesInput = z.strictObject({ MARKETING: Rate, UTILITY: Rate, AUTHENTICATION: Rate });

/** WHATSAPP_PRICES: a whole table, e.g. `{"source":"our Twilio invoice, 2026-11","countries":{"IL":{…}},"otherCountries":{…},"providerFeePerMessage":0.005}`. */
export const PriceTableInput = z.strictObject({
  source: z.string().min(1).max(500),
  countries: z.record(z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code'), RatesInput),
  otherCountries: RatesInput,
  providerFeePerMessage: Rate,
});

/**
 * The table WHATSAPP_PRICES gives, or the default when it is unset or blank. Throws an Error naming
 * the problem when it is set but not a valid table (a deployment mistake, never silently ignored).
 */
export function priceTableFrom(json: string | undefined): PriceTable {
  if (json === undefined || json.trim() === '') return DEFAULT_PRICE_TABLE;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('WHATSAPP_PRICES is not JSON');
  }
  const result = PriceTableInput.safeParse(parsed);
  if (!result.success)
    throw new Error(
      `WHATSAPP_PRICES is not a price table: ${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  return { currency: 'USD', ...result.data };
}

export interface CostEstimate {
  readonly currency: 'USD';
  /** Rounded to the cent. */
  readonly amount: number;
  readonly category: TemplateCategory | null;
  readonly byCountry: { country: string; recipients: number; ratePerMessage: number; amount: number }[];
  readonly source: string;
}

/**
 * The cost of sending one template of `category` to `recipientsByCountry` (ISO alpha-2 → count;
 * `ZZ` for a number whose country is unknown, charged the "Other" rate). A template whose category
 * the registry does not know (null) is priced as MARKETING, the dearest, so the estimate never
 * comes out low. Countries are listed dearest first.
 */
export function estimateCost(
  table: PriceTable,
  category: TemplateCategory | null,
  recipientsByCountry: ReadonlyMap<string, number>,
): CostEstimate {
  const charged: TemplateCategory = category ?? 'MARKETING';
  const byCountry = [...recipientsByCountry]
    .filter(([, recipients]) => recipients > 0)
    .map(([country, recipients]) => {
      const ratePerMessage =
        (table.countries[country] ?? table.otherCountries)[charged] + table.providerFeePerMessage;
      return {
        country,
        recipients,
        ratePerMessage: round(ratePerMessage, 4),
        amount: round(ratePerMessage * recipients, 2),
      };
    })
    .sort((a, b) => b.amount - a.amount || a.country.localeCompare(b.country));
  const total = byCountry.reduce((sum, c) => sum + c.ratePerMessage * c.recipients, 0);
  return { currency: table.currency, amount: round(total, 2), category, byCountry, source: table.source };
}

const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;
