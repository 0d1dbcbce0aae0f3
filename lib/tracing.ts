/**
 * X-Ray tracing, a deploy setting (`-c tracing=true`, BroadcastStackProps.tracing), off by default.
 *
 * On, only these functions get X-Ray active tracing and Powertools Tracer
 * (functions/commons/tracing.ts): the send consumer, whose Twilio call, pacing and ledger writes are
 * what a slow or failing broadcast is made of, and Twilio's two webhooks. The others would record
 * traces of a DynamoDB read or two, which their logs and metrics already say.
 *
 * Cost (https://aws.amazon.com/xray/pricing/): $5.00 per million traces recorded, $0.50 per million
 * retrieved or scanned, the first 100,000 recorded a month free. Lambda samples with X-Ray's default
 * rule, the first request each second and 5 % of the rest: a 100,000-message broadcast at 80/s (about
 * 100,000 send-task messages in batches, ~300,000 callbacks) records about 1,250 + 5 % of ~302,000 ≈
 * 16,000 traces, about $0.08 past the free tier.
 */
export const TRACED_FUNCTIONS: ReadonlySet<string> = new Set([
  'sendMessages',
  'twilioStatusWebhook',
  'twilioInboundWebhook',
]);

/** Whether a function is traced when the stack's tracing setting is `enabled`. */
export function isTraced(fnId: string, enabled: boolean): boolean {
  return enabled && TRACED_FUNCTIONS.has(fnId);
}

/** Powertools Tracer's switch for a traced function: it records only when X-Ray is on. */
export function tracingEnvironment(fnId: string, enabled: boolean): Record<string, string> {
  return TRACED_FUNCTIONS.has(fnId) ? { POWERTOOLS_TRACE_ENABLED: String(enabled) } : {};
}
