/**
 * The console's security headers, one definition for both places that serve it: the twin
 * (lib/local/console-files.ts) and CloudFront's response headers policy (lib/console-site.ts).
 * - CSP: scripts, styles and everything else from the console's own origin only; the API is the
 *   only other place it may call (`connect-src`); no framing (`frame-ancestors 'none'`, OWASP
 *   Clickjacking Defense Cheat Sheet), no <base> or plugin tricks.
 * - nosniff, no referrer to other sites, HSTS on AWS (HTTPS only; not on the twin's plain HTTP).
 */
export function consoleCsp(apiOrigin?: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self'${apiOrigin ? ` ${apiOrigin}` : ''}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const CONSOLE_STATIC_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
