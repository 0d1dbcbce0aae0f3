import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { type RetentionSettings, retentionSettings } from '../core/retention.ts';
import { parseBackoffSeconds } from '../core/retry-policy.ts';

/**
 * Settings handlers read from their environment. Resource names come from the topology
 * (lib/topology.ts `uses`), the rest from the stack or the local twin.
 */
export class MissingConfigError extends Error {
  constructor(name: string) {
    super(`Environment variable ${name} is not set`);
    this.name = 'MissingConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export function requiredEnv(name: string, env: Env = process.env): string {
  const value = env[name];
  if (!value) throw new MissingConfigError(name);
  return value;
}

export function optionalEnv(name: string, env: Env = process.env): string | undefined {
  return env[name] || undefined;
}

export function intEnv(name: string, fallback: number, env: Env = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value))
    throw new Error(`Environment variable ${name} must be an integer, got '${raw}'`);
  return value;
}

/** The retry windows (RETRY_BACKOFF_SECONDS, default 300,900,3600): one per retry. */
export function retryBackoffSeconds(env: Env = process.env): number[] {
  return parseBackoffSeconds(env.RETRY_BACKOFF_SECONDS);
}

/** RECIPIENT_RETENTION_DAYS and HISTORY_RETENTION_DAYS (core/retention.ts), checked. */
export function retention(env: Env = process.env): RetentionSettings {
  return retentionSettings(env, retryBackoffSeconds(env));
}

/**
 * The reply sent to a person who opts out (OPT_OUT_CONFIRMATION_TEXT), inside the 24-hour window their
 * message opened; unset or blank: no reply (the default). Up to 1,600 characters, Twilio's Body limit.
 */
export function optOutConfirmationText(env: Env = process.env): string | undefined {
  const text = env.OPT_OUT_CONFIRMATION_TEXT?.trim();
  return text ? text : undefined;
}

/** The URL Twilio calls us at (no trailing slash): callbacks are built on it and signatures checked against it. */
export function publicBaseUrl(env: Env = process.env): string {
  return requiredEnv('PUBLIC_BASE_URL', env).replace(/\/+$/, '');
}

export interface TwilioSettings {
  readonly accountSid?: string;
  readonly authToken?: string;
  readonly from?: string;
  readonly messagingServiceSid?: string;
  readonly apiBaseUrl?: string;
}

/** How long a token read from Secrets Manager is reused before it is read again (a rotation lands). */
const SECRET_MAX_AGE_SECONDS = 300;

/**
 * The Twilio auth token: `TWILIO_AUTH_TOKEN` when set (local twin, tests), otherwise the secret named
 * by `TWILIO_AUTH_TOKEN_SECRET_ARN` through Powertools parameters (cached for 5 minutes). The secret
 * may be the bare token or JSON with an `authToken` field. Never logged.
 */
export async function twilioAuthToken(env: Env = process.env): Promise<string | undefined> {
  const direct = optionalEnv('TWILIO_AUTH_TOKEN', env);
  if (direct) return direct;
  const arn = optionalEnv('TWILIO_AUTH_TOKEN_SECRET_ARN', env);
  if (!arn) return undefined;
  const value = await getSecret(arn, { maxAge: SECRET_MAX_AGE_SECONDS });
  const text = typeof value === 'string' ? value : value ? Buffer.from(value).toString('utf8') : '';
  return secretToToken(text);
}

/** What a freshly deployed secret holds until the operator stores the real token. */
export const SECRET_NOT_SET = 'NOT_SET: put the Twilio auth token here';

export function secretToToken(text: string): string | undefined {
  const trimmed = text.trim();
  if (!trimmed || trimmed === SECRET_NOT_SET) return undefined;
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as Record<string, unknown>;
      for (const key of ['authToken', 'TWILIO_AUTH_TOKEN', 'token'])
        if (typeof parsed[key] === 'string' && parsed[key]) return parsed[key] as string;
      return undefined;
    } catch {
      return trimmed;
    }
  }
  return trimmed;
}

export async function twilioSettings(env: Env = process.env): Promise<TwilioSettings> {
  const authToken = await twilioAuthToken(env);
  const pick = (name: string) => optionalEnv(name, env);
  const accountSid = pick('TWILIO_ACCOUNT_SID');
  const from = pick('TWILIO_FROM');
  const messagingServiceSid = pick('TWILIO_MESSAGING_SERVICE_SID');
  const apiBaseUrl = pick('TWILIO_API_BASE_URL');
  return {
    ...(accountSid ? { accountSid } : {}),
    ...(authToken ? { authToken } : {}),
    ...(from ? { from } : {}),
    ...(messagingServiceSid ? { messagingServiceSid } : {}),
    ...(apiBaseUrl ? { apiBaseUrl } : {}),
  };
}
