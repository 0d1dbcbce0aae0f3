/**
 * Unique, valid Israeli mobile numbers for the bench's broadcasts: +972 5P UUU LLLL. The last four
 * digits pick the Twilio simulator's behaviour (API.md), so ordinary numbers never end in 000x.
 */
const PREFIXES = ['0', '2', '3', '4', '5', '8'];
/** Ordinary last-four values: 0010..9999. */
const ORDINARY = 9990;

/** `count` distinct ordinary numbers (delivered, then read), starting at `offset`. */
export function ordinaryPhones(count: number, offset = 0): string[] {
  return Array.from({ length: count }, (_, i) => {
    const n = offset + i;
    const lastFour = 10 + (n % ORDINARY);
    const middle = Math.floor(n / ORDINARY);
    if (middle >= 1000 * PREFIXES.length)
      throw new Error(`no more than ${1000 * PREFIXES.length * ORDINARY} numbers`);
    return phone(middle, lastFour);
  });
}

/** `count` distinct numbers ending in `lastFour` (e.g. 0009: sent, never delivered); at most 6,000. */
export function phonesEndingIn(lastFour: string, count: number): string[] {
  if (!/^\d{4}$/.test(lastFour)) throw new Error(`lastFour must be four digits, got ${lastFour}`);
  if (count > 1000 * PREFIXES.length)
    throw new Error(`at most ${1000 * PREFIXES.length} numbers end in ${lastFour}`);
  return Array.from({ length: count }, (_, middle) => phone(middle, Number(lastFour)));
}

function phone(middle: number, lastFour: number): string {
  const prefix = PREFIXES[Math.floor(middle / 1000)];
  return `+9725${prefix}${String(middle % 1000).padStart(3, '0')}${String(lastFour).padStart(4, '0')}`;
}
