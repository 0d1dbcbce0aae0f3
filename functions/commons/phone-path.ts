import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ApiError } from '../core/errors.ts';
import { INVALID_REASON_TEXT, type InvalidReason, normalizePhone } from '../core/phones.ts';

/** Strictly E.164: a number on a list or in a history that libphonenumber would no longer accept. */
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * The route's `{phone}`: E.164, URL-encoded (`%2B972501234567`) or not, or its digits without the
 * `+`. It is normalized as the add routes do. With `stored` (reads and removals), a strict E.164
 * number that the normalization refuses (a fixed line, say) is still taken as it is, so whatever is
 * stored can be reached; without it (creating a contact) the number must be one WhatsApp can reach.
 * A 400 VALIDATION_FAILED naming `phone` otherwise.
 */
export function pathPhone(
  event: APIGatewayProxyEventV2,
  options: { stored?: boolean } = { stored: true },
): string {
  let text = event.pathParameters?.phone ?? '';
  if (text.includes('%'))
    try {
      text = decodeURIComponent(text);
    } catch {
      // Not valid percent-encoding: judged as it is.
    }
  text = text.trim();
  const international = text.startsWith('+') || text.startsWith('00') ? text : `+${text}`;
  const outcome = normalizePhone(international);
  if (outcome.ok) return outcome.phone;
  if (options.stored && E164.test(international)) return international;
  throw invalidPhone('phone', outcome.reason, 'Invalid path parameter');
}

export function invalidPhone(path: string, reason: InvalidReason, message = 'The request body is invalid') {
  return new ApiError('VALIDATION_FAILED', `${message}: ${path}: ${INVALID_REASON_TEXT[reason]}`, [
    { path, message: INVALID_REASON_TEXT[reason], reason },
  ]);
}
