import twilio from 'twilio';
import { RebasedRequestClient } from './twilio-request-client.ts';

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

export function createTwilioClient(options: TwilioClientOptions): twilio.Twilio {
  const httpClient = new RebasedRequestClient(options.apiBaseUrl, options.timeoutMs);
  return twilio(options.accountSid, options.authToken, { httpClient, autoRetry: false });
}
