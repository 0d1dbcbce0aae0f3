import { parsePhoneNumberWithError } from 'libphonenumber-js/max';

/**
 * A contact's time zone (API.md Contacts: "IANA; default from the number's country"): checking one
 * an admin gives, and guessing one from the phone when none is given.
 *
 * The mapping country → zones is the one the runtime already carries: ICU's CLDR data, read through
 * `Intl.Locale.prototype.getTimeZones()` (TC39 Intl Locale Info, shipped in V8/Node since 2021;
 * https://tc39.es/proposal-intl-locale-info/#sec-Intl.Locale.prototype.getTimeZones). It is updated
 * with Node's ICU, so no zone table of ours goes stale. CLDR names a zone by its long-standing id,
 * which is sometimes IANA's older alias (`Asia/Calcutta` for `Asia/Kolkata`, `Europe/Kiev` for
 * `Europe/Kyiv`): both are IANA ids (tzdata's `backward` file) and every tz library reads them.
 *
 * A country with one zone gets it. A country with several (the US, Brazil, Mexico, Russia,
 * Australia…) gets the zone of its capital, which in each of them is also the zone most of its
 * people live in (MULTI_ZONE_DEFAULTS): a guess, documented as such; an admin who knows better sets
 * `timeZone`. libphonenumber-js has no number → zone data (its Java original's
 * PhoneNumberToTimeZonesMapper is not ported), so area codes are not used.
 */

/** The zone of the capital (and of most of the people) of each country ICU gives several zones for. */
export const MULTI_ZONE_DEFAULTS: Readonly<Record<string, string>> = {
  AR: 'America/Argentina/Buenos_Aires',
  AU: 'Australia/Sydney',
  BR: 'America/Sao_Paulo',
  CA: 'America/Toronto',
  CD: 'Africa/Kinshasa',
  CL: 'America/Santiago',
  CN: 'Asia/Shanghai',
  CY: 'Asia/Nicosia',
  DE: 'Europe/Berlin',
  EC: 'America/Guayaquil',
  ES: 'Europe/Madrid',
  FM: 'Pacific/Pohnpei',
  GL: 'America/Nuuk',
  ID: 'Asia/Jakarta',
  KI: 'Pacific/Tarawa',
  KZ: 'Asia/Almaty',
  MH: 'Pacific/Majuro',
  MN: 'Asia/Ulaanbaatar',
  MX: 'America/Mexico_City',
  MY: 'Asia/Kuala_Lumpur',
  NZ: 'Pacific/Auckland',
  PF: 'Pacific/Tahiti',
  PG: 'Pacific/Port_Moresby',
  PS: 'Asia/Hebron',
  PT: 'Europe/Lisbon',
  RU: 'Europe/Moscow',
  UA: 'Europe/Kyiv',
  US: 'America/New_York',
  UZ: 'Asia/Tashkent',
  // Calling-code regions CLDR has no zone for.
  AC: 'Atlantic/St_Helena',
  TA: 'Atlantic/St_Helena',
  XK: 'Europe/Belgrade',
};

/** When the number's country cannot be told (a non-geographic +800, +882 number): UTC. */
export const FALLBACK_TIME_ZONE = 'UTC';

type LocaleWithZones = Intl.Locale & { getTimeZones?: () => string[] };

/** The zones ICU lists for an ISO 3166-1 alpha-2 region (`[]` when it knows none). */
export function timeZonesOfCountry(country: string): string[] {
  try {
    return (new Intl.Locale(`und-${country}`) as LocaleWithZones).getTimeZones?.() ?? [];
  } catch {
    return [];
  }
}

/** Countries' default zones as found: ICU's lookup takes a few hundred microseconds. */
const countryZones = new Map<string, string | undefined>();

/** The default zone for a country (see the module's rule), or undefined. */
export function defaultTimeZoneOfCountry(country: string): string | undefined {
  const chosen = MULTI_ZONE_DEFAULTS[country];
  if (chosen) return chosen;
  if (countryZones.has(country)) return countryZones.get(country);
  const zones = timeZonesOfCountry(country);
  const zone = zones.length === 1 ? zones[0] : undefined;
  countryZones.set(country, zone);
  return zone;
}

/** The default zone of an E.164 number: its country's (module rule), else UTC. */
export function defaultTimeZone(phone: string): string {
  try {
    const country = parsePhoneNumberWithError(phone).country;
    return (country && defaultTimeZoneOfCountry(country)) || FALLBACK_TIME_ZONE;
  } catch {
    return FALLBACK_TIME_ZONE;
  }
}

/**
 * An IANA zone id as the contact keeps it, or undefined when it is not one. Valid is what the
 * runtime's tz data knows (`new Intl.DateTimeFormat(undefined, { timeZone })` accepts it); UTC
 * offsets (`+02:00`), which Intl also accepts, are refused: an offset ignores daylight saving time.
 * The spelling is kept (`Asia/Kolkata` stays so), bar its letter case, which is set to the id's own
 * (`asia/jerusalem` → `Asia/Jerusalem`) when Intl resolves it to the same id.
 */
export function canonicalTimeZone(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.length > 64 || /^[+\-\u2212]|^\d/.test(trimmed)) return undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: trimmed }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  if (/^[+-]/.test(resolved)) return undefined;
  return resolved.toLowerCase() === trimmed.toLowerCase() ? resolved : trimmed;
}
