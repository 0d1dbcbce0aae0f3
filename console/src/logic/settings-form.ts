/**
 * The Settings page's messaging limit (PUT /v1/settings `messagingLimit`, functions/core/
 * tenant-settings.ts): one of Meta's tiers, `unlimited`, or another whole number (Meta's source:
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/messaging-limits).
 */
export const MESSAGING_TIERS = [250, 2000, 10_000, 100_000] as const;

/** The server's highest accepted number (functions/core/tenant-settings.ts MAX_MESSAGING_LIMIT; a test keeps them equal). */
export const MAX_LIMIT = 1_000_000;

/** The select's value: a tier as text, 'unlimited', or 'other' (the number field then holds it). */
export function limitChoiceOf(limit: number | 'unlimited'): { choice: string; other: string } {
  if (limit === 'unlimited') return { choice: 'unlimited', other: '' };
  return (MESSAGING_TIERS as readonly number[]).includes(limit)
    ? { choice: String(limit), other: '' }
    : { choice: 'other', other: String(limit) };
}

/** The value to PUT, or undefined when 'other' holds no whole number from 1 to MAX_LIMIT. */
export function limitValueOf(choice: string, other: string): number | 'unlimited' | undefined {
  if (choice === 'unlimited') return 'unlimited';
  const text = choice === 'other' ? other.trim() : choice;
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= MAX_LIMIT ? n : undefined;
}
