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
  // Two GETs with Basic auth, as the SDK would send them: the SDK's Api and Messaging domains would add
  // ~0.7 MB to the settings function's bundle for these two reads.
  const base = (origin: string) => options.apiBaseUrl?.replace(/\/+$/, '') ?? origin;
  const get = (url: string) =>
    fetch(url, {
      headers: {
        authorization: `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`,
        accept: 'application/json',
      },
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
  let status: number;
  try {
    status = (await get(`${base('https://api.twilio.com')}/2010-04-01/Accounts/${options.accountSid}.json`))
      .status;
  } catch {
    return unavailable(undefined);
  }
  if (status === 401 || status === 403 || status === 404)
    return {
      ok: false,
      problem: 'credentials',
      message: `Twilio refused account ${options.accountSid} with this auth token (HTTP ${status}): check both in the Twilio console.`,
    };
  if (status !== 200) return unavailable(status);
  if (!options.messagingServiceSid) return { ok: true };
  try {
    status = (await get(`${base('https://messaging.twilio.com')}/v1/Services/${options.messagingServiceSid}`))
      .status;
  } catch {
    return unavailable(undefined);
  }
  if (status === 404)
    return {
      ok: false,
      problem: 'service_not_found',
      message: `Account ${options.accountSid} has no Messaging Service ${options.messagingServiceSid}.`,
    };
  return status === 200 ? { ok: true } : unavailable(status);
}

function unavailable(status: number | undefined): SenderCheck {
  return {
    ok: false,
    problem: 'unavailable',
    message: `Twilio did not answer the check${status ? ` (HTTP ${status})` : ''}; try again shortly.`,
  };
}
