import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';

export interface TwilioClientOptions {
  accountSid: string;
  authToken: string;
  /**
   * Send what the SDK would send to https://api.twilio.com (Messages) and https://content.twilio.com
   * (Content templates) here instead: the local simulator, which serves both.
   */
  apiBaseUrl?: string;
  /** Per-request timeout; the SDK's default is 30 s. */
  timeoutMs?: number;
}

/** The REST origins the product calls, with the SDK's edge/region forms (api.dublin.ie1.twilio.com). */
const TWILIO_API_ORIGIN = /^https:\/\/(?:api|content)(?:\.[a-z0-9-]+)*\.twilio\.com(?=\/|$)/i;

// Only the URI is rewritten, so auth headers, form encoding and response parsing stay the SDK's own.
class RebasedRequestClient extends twilio.RequestClient {
  readonly #baseUrl: string | undefined;

  constructor(baseUrl: string | undefined, timeoutMs: number | undefined) {
    // autoRetry off: retries (and the reconcile-before-retry rule for ambiguous outcomes) belong to the product.
    super({ autoRetry: false, timeout: timeoutMs });
    this.#baseUrl = baseUrl?.replace(/\/+$/, '');
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const uri = this.#baseUrl ? opts.uri.replace(TWILIO_API_ORIGIN, this.#baseUrl) : opts.uri;
    return super.request<TData>({ ...opts, uri });
  }
}

export function createTwilioClient(options: TwilioClientOptions): twilio.Twilio {
  const httpClient = new RebasedRequestClient(options.apiBaseUrl, options.timeoutMs);
  return twilio(options.accountSid, options.authToken, { httpClient, autoRetry: false });
}
