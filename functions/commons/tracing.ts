import type { MiddlewareObj } from '@middy/core';

/**
 * Powertools Tracer (X-Ray) for the few functions where a trace pays for itself: the send consumer
 * (its Twilio create call, pacing and ledger writes) and Twilio's webhooks. Only the functions that
 * import this module bundle Tracer and the X-Ray SDK (lib/tracing.ts lists them; a bundling test holds
 * them to it).
 *
 * Off unless the stack is deployed with `-c tracing=true` (POWERTOOLS_TRACE_ENABLED and the functions'
 * X-Ray active tracing). Tracer is loaded only then: the X-Ray SDK enables Node's async hooks for its
 * context when it loads, a cost on every await that the twin (every handler in one process) and an
 * untraced deployment should not pay. On, it records every outgoing HTTPS call as a subsegment
 * (Twilio's `api.twilio.com`, DynamoDB, SQS), but never a response body (they hold phone numbers).
 */
type Middleware = MiddlewareObj;

let loading: Promise<Middleware | undefined> | undefined;

/** Whether this invocation is traced: the stack's setting, and only on Lambda. */
export function tracingOn(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^true$/i.test(env.POWERTOOLS_TRACE_ENABLED ?? '') && Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
}

async function load(): Promise<Middleware | undefined> {
  if (!tracingOn()) return undefined;
  const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
    import('@aws-lambda-powertools/tracer'),
    import('@aws-lambda-powertools/tracer/middleware'),
  ]);
  const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'whatsapp-broadcast' });
  return captureLambdaHandler(tracer, { captureResponse: false }) as Middleware;
}

/** Middy middleware: the invocation as a traced segment (cold start annotated), without its result. */
export function traceInvocation(): Middleware {
  const traced = () => {
    loading ??= load();
    return loading;
  };
  // Never a value back: a middy `before` that returns one answers in the handler's place.
  return {
    before: async (request) => {
      await (await traced())?.before?.(request);
    },
    after: async (request) => {
      await (await traced())?.after?.(request);
    },
    onError: async (request) => {
      await (await traced())?.onError?.(request);
    },
  };
}
