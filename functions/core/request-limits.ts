/**
 * The size limits a request meets on AWS before any of our code runs, in one place: the local
 * gateway enforces them the way AWS measures them, and the OpenAPI document states them.
 */

/**
 * HTTP API's payload quota: a request body over 10 MB is refused by API Gateway itself
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
 */
export const HTTP_API_MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * Lambda's synchronous invocation payload, 6 MB (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
 * It bounds the EVENT, not the body: the body travels inside the JSON event, escaped as a JSON
 * string (each `"` and `\` costs two bytes) or base64 (4/3) for non-text content types, next to
 * the headers and the request context. Lambda's own error names 6,291,556 bytes; the documented
 * 6 MiB is 100 bytes short of it.
 */
export const LAMBDA_MAX_EVENT_BYTES = 6 * 1024 * 1024;
