import { describe, expect, it } from 'vitest';
import {
  canonicalTimeZone,
  defaultTimeZone,
  MULTI_ZONE_DEFAULTS,
  timeZonesOfCountry,
} from '../../functions/core/time-zones.ts';

describe('defaultTimeZone', () => {
  it("gives a one-zone country's zone, and a several-zone country's capital's", () => {
    expect(defaultTimeZone('+972501234567')).toBe('Asia/Jerusalem');
    expect(defaultTimeZone('+254712345678')).toBe('Africa/Nairobi');
    expect(defaultTimeZone('+12025550123')).toBe('America/New_York');
    expect(defaultTimeZone('+5511987654321')).toBe('America/Sao_Paulo');
    expect(defaultTimeZone('+525512345678')).toBe('America/Mexico_City');
  });

  it('falls back to UTC for a number without a country', () => {
    expect(defaultTimeZone('+80012345678')).toBe('UTC');
    expect(defaultTimeZone('not a phone')).toBe('UTC');
  });

  it('has a documented zone for every country the runtime gives several zones for, each a zone it knows', () => {
    for (const [country, zone] of Object.entries(MULTI_ZONE_DEFAULTS))
      expect(canonicalTimeZone(zone), `${country}: ${zone}`).toBe(zone);
    for (const country of ['US', 'BR', 'MX', 'RU', 'AU', 'CA', 'ID'])
      expect(timeZonesOfCountry(country).length, country).toBeGreaterThan(1);
  });
});

describe('canonicalTimeZone', () => {
  it('accepts IANA ids (fixing their case), refuses offsets and unknown names', () => {
    expect(canonicalTimeZone('asia/jerusalem')).toBe('Asia/Jerusalem');
    expect(canonicalTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    for (const bad of ['+02:00', '-0500', 'Mars/Phobos', '', 'GMT+2 ', '2'])
      expect(canonicalTimeZone(bad), bad).toBeUndefined();
  });
});
