import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApiError, errorBody, statusOf } from '../core/errors.ts';

/** Answers in API.md's shapes: JSON bodies, one error shape with a stable code. */
const JSON_TYPE = 'application/json; charset=utf-8';

export function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(body) };
}

/** Any thrown value as API.md's error shape: an ApiError with its code, anything else as INTERNAL. */
export function errorResponse(error: unknown): APIGatewayProxyStructuredResultV2 {
  return json(statusOf(error), errorBody(error));
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

/** The request body as JSON; anything else is a 400 VALIDATION_FAILED. */
export function parseJson(event: APIGatewayProxyEventV2): unknown {
  const text = bodyText(event);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('VALIDATION_FAILED', 'The request body must be JSON.', [
      { path: '', message: text ? 'not valid JSON' : 'empty body' },
    ]);
  }
}

/** A paged read whose cursor the store could not decode: a 400 naming `cursor`, not a 500. */
export async function withCursor<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof Error && error.name === 'InvalidCursor')
      throw new ApiError('VALIDATION_FAILED', 'Invalid query parameters', [
        { path: 'cursor', message: 'not a cursor this API gave out; start again without it' },
      ]);
    throw error;
  }
}
