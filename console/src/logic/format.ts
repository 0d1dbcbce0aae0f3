/** Display formatting; pure, so vitest checks it (test/console/logic.test.ts). */

import { FINAL_BROADCAST_STATUSES as FINAL } from '../../../functions/core/statuses.ts';

// The statuses are the API's own (functions/core/statuses.ts: no AWS or Node import), not a copy.
export { BROADCAST_STATUSES, RECIPIENT_STATUSES } from '../../../functions/core/statuses.ts';

/** Broadcast statuses after which nothing changes (API.md, "Statuses"). */
export const FINAL_BROADCAST_STATUSES: ReadonlySet<string> = new Set(FINAL);

/** Seconds → "45 s", "3 min 20 s", "2 h 5 min" (the dry run's estimatedSeconds). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const rest = s % 60;
    return `${Math.floor(s / 60)} min${rest ? ` ${rest} s` : ''}`;
  }
  const minutes = Math.round((s % 3600) / 60);
  return `${Math.floor(s / 3600)} h${minutes ? ` ${minutes} min` : ''}`;
}

/** An amount in a currency, in the given locale: formatMoney(0.0412, 'USD', 'en') → "$0.0412". */
export function formatMoney(amount: number, currency: string, locale = 'en'): string {
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: 2,
    maximumFractionDigits: 4,
  }).format(amount);
}

/** An ISO-8601 timestamp in the reader's locale and time zone (or `timeZone`, then named); '' for none. */
export function formatTime(iso: string | undefined, locale = 'en', timeZone?: string): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
    ...(timeZone ? { timeZone } : {}),
  })
    .format(date)
    .concat(timeZone ? ` (${timeZone})` : '');
}

/** Per-minute counts of send times (ISO strings), oldest first, gaps filled with zeros (at most 120 minutes). */
export function sendsPerMinute(times: readonly (string | undefined)[]): { minute: string; count: number }[] {
  const counts = new Map<number, number>();
  for (const t of times) {
    if (!t) continue;
    const ms = Date.parse(t);
    if (Number.isNaN(ms)) continue;
    const minute = Math.floor(ms / 60_000);
    counts.set(minute, (counts.get(minute) ?? 0) + 1);
  }
  if (counts.size === 0) return [];
  const keys = [...counts.keys()];
  const first = Math.min(...keys);
  const last = Math.min(Math.max(...keys), first + 119);
  const out: { minute: string; count: number }[] = [];
  for (let m = first; m <= last; m++)
    out.push({ minute: new Date(m * 60_000).toISOString().slice(11, 16), count: counts.get(m) ?? 0 });
  return out;
}

/** Twilio's public page for an error code (the source of the codes' meanings). */
export function twilioErrorUrl(code: string | number): string {
  return `https://www.twilio.com/docs/api/errors/${encodeURIComponent(String(code))}`;
}
