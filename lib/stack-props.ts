import type { StackProps } from 'aws-cdk-lib';
import { DEFAULT_SENDER_MPS } from '../functions/core/pacing.ts';
import { priceTableFrom } from '../functions/core/pricing.ts';
import type { Topology } from './topology.ts';

/**
 * What the stack takes (bin/app.ts fills it from `cdk deploy -c name=value`), and the checks that
 * refuse a bad value at synth, with a message naming the setting.
 */

/** Non-secret Twilio settings (the auth token lives in Secrets Manager). */
export interface TwilioSettings {
  readonly accountSid?: string;
  /** `whatsapp:+E164` sender, or empty when a messaging service is used. */
  readonly from?: string;
  readonly messagingServiceSid?: string;
}

export interface BroadcastStackProps extends StackProps {
  /** @default the project's declared topology (lib/topology.ts) */
  readonly topology?: Topology;
  readonly twilio?: TwilioSettings;
  /**
   * The base URL Twilio calls and signs (a custom domain in front of the API).
   * @default the HTTP API's execute-api URL
   */
  readonly publicBaseUrl?: string;
  /**
   * Default throttle of every route. Twilio status callbacks arrive at up to about three
   * per message sent (sent, delivered, read), so keep it well above three times the
   * senders' combined messages per second.
   * @default 2,000 requests/s, burst 4,000
   */
  readonly apiThrottle?: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default 'whatsapp-broadcast' */
  readonly serviceName?: string;
  /**
   * Requests per second one tenant's API keys may make together (the functions' TENANT_RATE_LIMIT;
   * 0 turns it off): over it, 429 RATE_LIMITED, so one tenant cannot use up the stage-wide throttle.
   * @default 50
   */
  readonly tenantRateLimit?: number;
  /**
   * Days an audit log entry is kept before DynamoDB's TTL deletes it (AUDIT_RETENTION_DAYS).
   * @default 365
   */
  readonly auditRetentionDays?: number;
  /**
   * Retry windows in seconds, one per retry (the functions' RETRY_BACKOFF_SECONDS).
   * @default '300,900,3600'
   */
  readonly retryBackoffSeconds?: string;
  /**
   * The WhatsApp sender's messages per second at Twilio/Meta (80 by default; 400–1,000 on request):
   * every send consumer together paces to it (the functions' SENDER_MPS).
   * @default 80
   */
  readonly senderMps?: number;
  /**
   * Your WhatsApp prices for the dry run's cost estimate, as JSON (functions/core/pricing.ts
   * `PriceTableInput`; the functions' WHATSAPP_PRICES). Checked at synth.
   * @default Meta's list rates and Twilio's fee, as of functions/core/pricing.ts RATE_CARD_DATE
   */
  readonly whatsAppPrices?: string;
  /**
   * The functions' log level (application and system logs). WARN keeps CloudWatch Logs, which AWS
   * bills per GB ingested, near nothing per message; INFO logs every send.
   * @default 'WARN'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * One free-form reply confirming an opt-out to the person (OPT_OUT_CONFIRMATION_TEXT), sent inside
   * the 24-hour window their STOP opened; at most 1,600 characters (Twilio's Body limit).
   * @default none: no reply
   */
  readonly optOutConfirmationText?: string;
  /**
   * X-Ray active tracing and Powertools Tracer on the functions where a trace pays (lib/tracing.ts:
   * the send consumer and Twilio's webhooks; $5 per million traces recorded). Off by default.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Origins allowed to PUT files to the uploads bucket's presigned URLs from a browser (CORS), e.g.
   * the console's `https://console.example.com`. Without one, uploads work from anything but a web
   * page (curl, a server, the SDK).
   * @default none
   */
  readonly uploadCorsOrigins?: readonly string[];
  /**
   * The admin console (lib/console-site.ts): S3 + CloudFront, its URL in the ConsoleUrl output, and
   * the API's CORS allowing that origin only. Off: no console resources, no CORS.
   * @default true
   */
  readonly console?: boolean;
  /**
   * Where the alarms' notifications go: an email subscription to the alarm topic (lib/alarms.ts),
   * which AWS asks the address to confirm. Without one the topic still exists (output AlarmTopicArn).
   * @default none
   */
  readonly alarmEmail?: string;
  /**
   * Days a broadcast's recipients are kept from their first write (RECIPIENT_RETENTION_DAYS,
   * functions/core/retention.ts); at least 30 + the retry windows + 1. Checked at synth.
   * @default 90
   */
  readonly recipientRetentionDays?: number;
  /**
   * Days a contact's message history entry is kept (HISTORY_RETENTION_DAYS). Checked at synth.
   * @default 180
   */
  readonly historyRetentionDays?: number;
}

/** The price table as the functions get it, refused at synth when it is not one (pricing.ts says why). */
export function checkPrices(json: string): string {
  priceTableFrom(json);
  return json;
}

export function checkTwilioSettings(settings: TwilioSettings): TwilioSettings {
  const clean = {
    accountSid: settings.accountSid?.trim() || undefined,
    from: settings.from?.trim() || undefined,
    messagingServiceSid: settings.messagingServiceSid?.trim() || undefined,
  };
  if (clean.accountSid && !/^AC[0-9a-fA-F]{32}$/.test(clean.accountSid))
    throw new Error(
      `twilioAccountSid must look like AC followed by 32 hex digits, got '${clean.accountSid}'`,
    );
  if (clean.messagingServiceSid && !/^MG[0-9a-fA-F]{32}$/.test(clean.messagingServiceSid))
    throw new Error(
      `twilioMessagingServiceSid must look like MG followed by 32 hex digits, got '${clean.messagingServiceSid}'`,
    );
  return clean;
}

export function checkPublicBaseUrl(url: string | undefined): string | undefined {
  const trimmed = url?.trim();
  if (!trimmed) return undefined;
  if (!/^https:\/\/[^/\s]+(\/\S*)?$/.test(trimmed))
    throw new Error(`publicBaseUrl must be an https:// URL, got '${trimmed}'`);
  return trimmed.replace(/\/+$/, '');
}

/** At most Twilio's 1,600-character Body; a typo fails the synth. */
export function validOptOutText(text: string | undefined): string {
  const trimmed = text?.trim() ?? '';
  if (trimmed.length > 1600)
    throw new Error(`optOutConfirmationText must be at most 1,600 characters; got ${trimmed.length}`);
  return trimmed;
}

/** 1–1,000 messages per second (Meta's ceiling for one sender); a typo fails the synth. */
export function validSenderMps(mps: number | undefined): number {
  if (mps === undefined) return DEFAULT_SENDER_MPS;
  if (!Number.isInteger(mps) || mps < 1 || mps > 1000)
    throw new Error(`senderMps must be a whole number of messages per second from 1 to 1000; got ${mps}`);
  return mps;
}
