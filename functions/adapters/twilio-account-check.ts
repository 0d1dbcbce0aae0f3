import BaseTwilio from 'twilio/lib/base/BaseTwilio.js';
import Api from 'twilio/lib/rest/Api.js';
import Messaging from 'twilio/lib/rest/Messaging.js';
import { RebasedRequestClient } from './twilio-request-client.ts';

/** Why Twilio refused a tenant's sender settings, or could not say. */
export type SenderCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly problem: 'credentials' | 'service_not_found' | 'unavailable';
      readonly message: string;
    };

/** Per request: PUT /v1/settings/twilio answers well within API Gateway's 29 s. */
const CHECK_TIMEOUT_MS = 5_000;

/**
 * Asks Twilio whether a tenant's sender settings work, with two cheap reads: the account
 * (`GET /2010-04-01/Accounts/{AccountSid}.json`, which answers 401/20003 for a wrong SID or token:
 * https://www.twilio.com/docs/iam/api/account#fetch-an-account-resource) and, for a Messaging Service,
 * the service (`GET https://messaging.twilio.com/v1/Services/{Sid}`, 404/20404 when the account has no
 * such service: https://www.twilio.com/docs/messaging/api/service-resource#fetch-a-service-resource).
 * A WhatsApp From address has no cheap read of its own; a wrong one fails the first send with 63007.
 */
export async function checkTwilioSender(options: {
  readonly accountSid: string;
  readonly authToken: string;
  readonly messagingServiceSid?: string;
  /** The local simulator in place of https://api.twilio.com and https://messaging.twilio.com. */
  readonly apiBaseUrl?: string;
}): Promise<SenderCheck> {
  // Only the two domains it reads, on the SDK's base client (as twilio-templates.ts does for Content).
  const client = new BaseTwilio.Client(options.accountSid, options.authToken, {
    httpClient: new RebasedRequestClient(options.apiBaseUrl, CHECK_TIMEOUT_MS),
    autoRetry: false,
  });
  try {
    await new Api(client).v2010.accounts(options.accountSid).fetch();
  } catch (error) {
    const status = statusOf(error);
    if (status === 401 || status === 403 || status === 404)
      return {
        ok: false,
        problem: 'credentials',
        message: `Twilio refused account ${options.accountSid} with this auth token (HTTP ${status}): check both in the Twilio console.`,
      };
    return unavailable(error);
  }
  if (!options.messagingServiceSid) return { ok: true };
  try {
    await new Messaging(client).v1.services(options.messagingServiceSid).fetch();
    return { ok: true };
  } catch (error) {
    if (statusOf(error) === 404)
      return {
        ok: false,
        problem: 'service_not_found',
        message: `Account ${options.accountSid} has no Messaging Service ${options.messagingServiceSid}.`,
      };
    return unavailable(error);
  }
}

function unavailable(error: unknown): SenderCheck {
  const status = statusOf(error);
  return {
    ok: false,
    problem: 'unavailable',
    message: `Twilio did not answer the check${status ? ` (HTTP ${status})` : ''}; try again shortly.`,
  };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' ? status : undefined;
}
