import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { validateRequest } from 'twilio/lib/webhooks/webhooks.js';
import { bodyText, header } from './http.ts';

/**
 * A Twilio webhook request as the signature sees it: the URL Twilio called (public base URL +
 * path + query, rebuilt because API Gateway's own host/stage is not what Twilio saw) and the
 * form parameters in the body.
 */
export interface TwilioWebhookRequest {
  readonly url: string;
  /** Form parameters, first value of each. */
  readonly params: Record<string, string>;
  /** Form parameters as signed: a repeated key keeps all its values. */
  readonly signedParams: Record<string, string | string[]>;
  readonly query: URLSearchParams;
  readonly signature: string | undefined;
}

/** Parses an application/x-www-form-urlencoded body: first values, and every value as signed. */
export function parseForm(text: string): {
  params: Record<string, string>;
  signedParams: Record<string, string | string[]>;
} {
  const params: Record<string, string> = {};
  const signedParams: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const seen = signedParams[key];
    if (seen === undefined) {
      params[key] = value;
      signedParams[key] = value;
    } else signedParams[key] = Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return { params, signedParams };
}

/** The URL Twilio called, on `baseUrl` (the API's public base URL, or the host reached): base + path + query. */
export function webhookUrlOn(event: APIGatewayProxyEventV2, baseUrl: string): string {
  const query = event.rawQueryString ?? '';
  return `${baseUrl.replace(/\/+$/, '')}${event.rawPath}${query ? `?${query}` : ''}`;
}

export function twilioWebhookRequest(
  event: APIGatewayProxyEventV2,
  publicBaseUrl: string,
): TwilioWebhookRequest {
  const query = event.rawQueryString ?? '';
  return {
    url: webhookUrlOn(event, publicBaseUrl),
    ...parseForm(bodyText(event)),
    query: new URLSearchParams(query),
    signature: header(event, 'x-twilio-signature'),
  };
}

/**
 * X-Twilio-Signature check: base64(HMAC-SHA1(token, url + sorted params)). twilio-node's
 * validateRequest compares with crypto.timingSafeEqual (after a length check; the length of a
 * SHA-1 base64 signature is public), trying the URL with and without the default port. A missing
 * signature or token is never valid.
 */
export function isValidTwilioSignature(
  authToken: string | undefined,
  request: Pick<TwilioWebhookRequest, 'url' | 'signedParams' | 'signature'>,
): boolean {
  if (!authToken || !request.signature) return false;
  try {
    return validateRequest(authToken, request.signature, request.url, request.signedParams);
  } catch {
    // new URL() inside validateRequest throws on a URL it cannot parse: not a valid request.
    return false;
  }
}
