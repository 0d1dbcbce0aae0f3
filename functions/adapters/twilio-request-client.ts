import RequestClient from 'twilio/lib/base/RequestClient.js';

/** The REST origins the product calls, with the SDK's edge/region forms (api.dublin.ie1.twilio.com). */
const TWILIO_API_ORIGIN = /^https:\/\/(?:api|content)(?:\.[a-z0-9-]+)*\.twilio\.com(?=\/|$)/i;

/**
 * The twilio SDK's own HTTP client with two changes: no automatic retries (retries, and the
 * reconcile-before-retry rule for ambiguous outcomes, belong to the product), and, with a base URL,
 * what the SDK would send to https://api.twilio.com (Messages) or https://content.twilio.com (Content
 * templates) goes there instead: the local simulator, which serves both. Only the URI is rewritten, so
 * auth headers, form encoding and response parsing stay the SDK's own. Imported on its own (not
 * through `twilio`) so a function that needs one Twilio domain does not bundle them all.
 */
export class RebasedRequestClient extends RequestClient {
  readonly #baseUrl: string | undefined;

  constructor(baseUrl: string | undefined, timeoutMs: number | undefined) {
    super({ autoRetry: false, timeout: timeoutMs });
    this.#baseUrl = baseUrl?.replace(/\/+$/, '');
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const uri = this.#baseUrl ? opts.uri.replace(TWILIO_API_ORIGIN, this.#baseUrl) : opts.uri;
    return super.request<TData>({ ...opts, uri });
  }
}
