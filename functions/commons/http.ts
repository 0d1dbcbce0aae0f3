import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApiError, errorBody, headersOf, statusOf } from '../core/errors.ts';
import { jsonContentTypeProblem } from '../core/media-type.ts';

/** Answers in API.md's shapes: JSON bodies, one error shape with a stable code. */
const JSON_TYPE = 'application/json; charset=utf-8';

export function json(
  statusCode: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { ...headers, 'content-type': JSON_TYPE }, body: JSON.stringify(body) };
}

/** Any thrown value as API.md's error shape: an ApiError with its code (and headers), anything else as INTERNAL. */
export function errorResponse(error: unknown): APIGatewayProxyStructuredResultV2 {
  return json(statusOf(error), errorBody(error), headersOf(error));
}

/** The empty TwiML answer Twilio webhooks expect. */
export function emptyTwiml(): APIGatewayProxyStructuredResultV2 {
  return { statusCode: 200, headers: { 'content-type': 'text/xml' }, body: '<Response/>' };
}

/**
 * TwiML that answers an inbound message with one message back (Twilio's Messaging TwiML <Message>:
 * sent to the sender of the inbound message, from the number it wrote to).
 */
export function twimlMessage(text: string): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?><Response><Message>${escapeXml(text)}</Message></Response>`,
  };
}

const XML_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c] ?? c);
}

/** The request body as text, decoding API Gateway's base64 when it did so. */
export function bodyText(event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** A header by name, case-insensitively (payload 2.0 lower-cases them, but be liberal). */
export function header(event: Pick<APIGatewayProxyEventV2, 'headers'>, name: string): string | undefined {
  const headers = event.headers ?? {};
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/**
 * The request body of a JSON route. A body sent as anything but `application/json` (no content
 * type, `text/plain`, a form) is refused before it is read: 415 UNSUPPORTED_MEDIA_TYPE. A JSON
 * body that does not parse is a 400 VALIDATION_FAILED.
 */
export function parseJson(event: APIGatewayProxyEventV2): unknown {
  const contentType = header(event, 'content-type');
  const problem = jsonContentTypeProblem(contentType);
  if (problem)
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Send the body as JSON with Content-Type: application/json (${problem}).`,
      [{ path: 'Content-Type', message: problem, expected: 'application/json' }],
    );
  const text = bodyText(event);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('VALIDATION_FAILED', 'The request body must be JSON.', [
      { path: '', message: text ? 'not valid JSON' : 'empty body' },
    ]);
  }
}
