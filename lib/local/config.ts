import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_AUDIT_RETENTION_DAYS, DEFAULT_TENANT_RATE_LIMIT } from '../../functions/core/access.ts';
import { newApiKey, parseApiKeyList } from '../../functions/core/api-keys.ts';
import { DEFAULT_SENDER_MPS } from '../../functions/core/pacing.ts';
import { retentionSettings } from '../../functions/core/retention.ts';
import { parseBackoffSeconds } from '../../functions/core/retry-policy.ts';
import { topology } from '../topology.ts';
import { replacePrivateFile } from './data-dir.ts';
import { type FaultPlan, FaultSpecError, parseFaultPlan } from './faults/spec.ts';
import { DEFAULT_TIMEOUT_HOLD_MS } from './twilio-simulator/faults.ts';

/** How the local twin reaches Twilio: the built-in simulator, or a real account. */
export type TwilioMode =
  | {
      readonly kind: 'simulator';
      readonly port: number;
      readonly accountSid: string;
      readonly authToken: string;
      readonly from: string;
      readonly mps: number;
      readonly latencyMs: number;
      /** Base delay between a message's status callbacks (SIM_CALLBACK_DELAY_MS). */
      readonly callbackDelayMs: number;
      /** How long twilio.timeout holds a create's answer (SIM_TIMEOUT_HOLD_MS). */
      readonly timeoutHoldMs: number;
    }
  | {
      readonly kind: 'real';
      readonly accountSid: string;
      readonly authToken: string;
      readonly from?: string;
      readonly messagingServiceSid?: string;
    };

export interface LocalConfig {
  readonly port: number;
  /** The URL Twilio would call; defaults to the API's own URL once its port is known. */
  readonly publicBaseUrl?: string;
  readonly dataDir: string;
  readonly twilio: TwilioMode;
  /** Seconds between runs of each scheduled rule, by the rule's local interval variable. */
  readonly scheduleIntervals: Readonly<Record<string, number>>;
  readonly dynamodbPort: number;
  /** DYNAMODB_LOCAL_NICE: DynamoDB Local's CPU priority as a nice value, 0–19 (cpu-priority.ts). */
  readonly dynamodbNiceness: number;
  readonly sqsPort: number;
  /** Tenant API keys seeded at start (LOCAL_API_KEYS, or one generated dev key). */
  readonly apiKeys: readonly { readonly tenantId: string; readonly key: string }[];
  /** True when the key was generated here (so it is printed: nobody else knows it). */
  readonly devKeyGenerated: boolean;
  /** Handler settings passed through as they are (validated here, so a typo stops the start). */
  readonly handlerSettings: Readonly<Record<string, string>>;
  /** Injected faults (TWIN_FAULTS, TWIN_FAULTS_SEED); absent when none are named. */
  readonly faults?: FaultPlan;
  /** LOCAL_EVENTS_URL: where the local event bus POSTs each lifecycle event (besides DATA_DIR/events.jsonl). */
  readonly eventsUrl?: string;
  /**
   * TWIN_GRANTS_LOG: a file to which the grant guard appends every permission each function's AWS
   * calls needed, one JSON line each (lib/local/grant-guard-wiring.ts); absent: none written.
   */
  readonly grantsLog?: string;
}

/** Handler settings `npm start` passes to the functions when set (README, "Configuration"). */
const HANDLER_SETTINGS = [
  'RETRY_BACKOFF_SECONDS',
  'SWEEP_STALE_SECONDS',
  'SEND_CONCURRENCY',
  'SENDER_MPS',
  'MAX_RECIPIENTS_PER_REQUEST',
  'TWILIO_TIMEOUT_MS',
  'TEMPLATE_CACHE_SECONDS',
  'POWERTOOLS_LOG_LEVEL',
  'OPT_OUT_CONFIRMATION_TEXT',
  'WHATSAPP_PRICES',
  'TENANT_RATE_LIMIT',
  'AUDIT_RETENTION_DAYS',
  'RECIPIENT_RETENTION_DAYS',
  'HISTORY_RETENTION_DAYS',
  'ERASURE_SETTLE_SECONDS',
] as const;

export const SIMULATOR_DEFAULT_FROM = 'whatsapp:+14155238886';
/** Twilio's limit on a message's Body (Messages API, `Body`: up to 1,600 characters). */
const MAX_BODY_LENGTH = 1600;

/** Powertools Logger's levels (case-insensitive). */
const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Reads the local run's settings (API.md, "Local run contract") from the environment,
 * with the contract's defaults, and refuses bad values with a message naming the variable.
 */
export function localConfigFromEnv(
  env: NodeJS.ProcessEnv,
  scheduleVars: readonly { envVar: string; defaultSeconds: number }[] = topology.schedules.map((s) => ({
    envVar: s.localIntervalEnvVar,
    defaultSeconds: s.everyMinutes * 60,
  })),
): LocalConfig {
  const port = integer(env, 'PORT', 3000, { min: 0, max: 65535 });
  const dataDir = path.resolve(env.DATA_DIR || '.local');
  const scheduleIntervals: Record<string, number> = {};
  for (const { envVar, defaultSeconds } of scheduleVars)
    scheduleIntervals[envVar] = integer(env, envVar, defaultSeconds, { min: 1, max: 86_400 });

  let twilio: TwilioMode;
  if (env.TWILIO_ACCOUNT_SID) {
    const authToken = env.TWILIO_AUTH_TOKEN;
    if (!authToken) throw new ConfigError('TWILIO_ACCOUNT_SID is set, so TWILIO_AUTH_TOKEN is required too.');
    if (!env.TWILIO_FROM && !env.TWILIO_MESSAGING_SERVICE_SID)
      throw new ConfigError(
        'With a real Twilio account, set TWILIO_FROM (e.g. whatsapp:+14155238886) or TWILIO_MESSAGING_SERVICE_SID.',
      );
    twilio = {
      kind: 'real',
      accountSid: env.TWILIO_ACCOUNT_SID,
      authToken,
      ...(env.TWILIO_FROM ? { from: env.TWILIO_FROM } : {}),
      ...(env.TWILIO_MESSAGING_SERVICE_SID ? { messagingServiceSid: env.TWILIO_MESSAGING_SERVICE_SID } : {}),
    };
  } else {
    twilio = {
      kind: 'simulator',
      port: integer(env, 'TWILIO_SIMULATOR_PORT', 3010, { min: 0, max: 65535 }),
      accountSid: env.TWILIO_SIMULATOR_ACCOUNT_SID || `AC${'0'.repeat(32)}`,
      authToken: env.TWILIO_SIMULATOR_AUTH_TOKEN || persistedSecret(dataDir, 'simulatorAuthToken'),
      from: SIMULATOR_DEFAULT_FROM,
      mps: integer(env, 'SIM_MPS', 80, { min: 1, max: 100_000 }),
      latencyMs: integer(env, 'SIM_LATENCY_MS', 20, { min: 0, max: 60_000 }),
      callbackDelayMs: integer(env, 'SIM_CALLBACK_DELAY_MS', 150, { min: 0, max: 3_600_000 }),
      timeoutHoldMs: integer(env, 'SIM_TIMEOUT_HOLD_MS', DEFAULT_TIMEOUT_HOLD_MS, { min: 0, max: 600_000 }),
    };
  }
  const faults = faultPlan(env, twilio);
  let apiKeys: { tenantId: string; key: string }[];
  try {
    apiKeys = env.LOCAL_API_KEYS ? parseApiKeyList(env.LOCAL_API_KEYS) : [];
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  try {
    parseBackoffSeconds(env.RETRY_BACKOFF_SECONDS);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  for (const name of ['SWEEP_STALE_SECONDS', 'SEND_CONCURRENCY', 'MAX_RECIPIENTS_PER_REQUEST'])
    integer(env, name, 1, { min: 1, max: 10_000_000 });
  integer(env, 'SENDER_MPS', DEFAULT_SENDER_MPS, { min: 1, max: 1000 });
  if ((env.OPT_OUT_CONFIRMATION_TEXT?.length ?? 0) > MAX_BODY_LENGTH)
    throw new ConfigError(
      `OPT_OUT_CONFIRMATION_TEXT must be at most ${MAX_BODY_LENGTH} characters (Twilio's Body limit), got ${env.OPT_OUT_CONFIRMATION_TEXT?.length}.`,
    );
  integer(env, 'TWILIO_TIMEOUT_MS', 10_000, { min: 100, max: 120_000 });
  // SQS's DelaySeconds: at most 900.
  integer(env, 'ERASURE_SETTLE_SECONDS', 60, { min: 0, max: 900 });
  try {
    retentionSettings(env, parseBackoffSeconds(env.RETRY_BACKOFF_SECONDS));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  integer(env, 'TEMPLATE_CACHE_SECONDS', 60, { min: 0, max: 3600 });
  integer(env, 'TENANT_RATE_LIMIT', DEFAULT_TENANT_RATE_LIMIT, { min: 0, max: 100_000 });
  integer(env, 'AUDIT_RETENTION_DAYS', DEFAULT_AUDIT_RETENTION_DAYS, { min: 1, max: 36_500 });
  const logLevel = env.POWERTOOLS_LOG_LEVEL;
  if (logLevel && !LOG_LEVELS.includes(logLevel.toUpperCase()))
    throw new ConfigError(`POWERTOOLS_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got '${logLevel}'.`);
  const handlerSettings: Record<string, string> = {};
  for (const name of HANDLER_SETTINGS) if (env[name]) handlerSettings[name] = env[name] as string;
  // One machine, the operator's own tenants: the per-tenant limit is off unless asked for (on AWS: 50/s).
  handlerSettings.TENANT_RATE_LIMIT ??= '0';
  const devKeyGenerated = apiKeys.length === 0;
  if (devKeyGenerated) apiKeys = [{ tenantId: 'dev', key: persistedSecret(dataDir, 'devApiKey', newApiKey) }];
  return {
    port,
    apiKeys,
    devKeyGenerated,
    handlerSettings,
    ...(env.PUBLIC_BASE_URL ? { publicBaseUrl: url(env.PUBLIC_BASE_URL, 'PUBLIC_BASE_URL') } : {}),
    dataDir,
    twilio,
    scheduleIntervals,
    dynamodbPort: integer(env, 'DYNAMODB_LOCAL_PORT', 0, { min: 0, max: 65535 }),
    // 0 by default: DynamoDB Local competes as any program does. Above 0 it yields the cores to the
    // handlers (the bench runs it at 10), and to every other busy program too, where it then starves
    // and the whole twin slows (README "Benchmark and cost").
    dynamodbNiceness: integer(env, 'DYNAMODB_LOCAL_NICE', 0, { min: 0, max: 19 }),
    sqsPort: integer(env, 'SQS_LOCAL_PORT', 0, { min: 0, max: 65535 }),
    ...(faults ? { faults } : {}),
    ...(env.LOCAL_EVENTS_URL ? { eventsUrl: url(env.LOCAL_EVENTS_URL, 'LOCAL_EVENTS_URL') } : {}),
    ...(env.TWIN_GRANTS_LOG?.trim() ? { grantsLog: env.TWIN_GRANTS_LOG.trim() } : {}),
  };
}

/** TWIN_FAULTS and TWIN_FAULTS_SEED; twilio.* faults are played by the simulator, so they need it. */
function faultPlan(env: NodeJS.ProcessEnv, twilio: TwilioMode): FaultPlan | undefined {
  let plan: FaultPlan;
  try {
    plan = parseFaultPlan(env.TWIN_FAULTS, env.TWIN_FAULTS_SEED);
  } catch (error) {
    if (error instanceof FaultSpecError) throw new ConfigError(error.message);
    throw error;
  }
  const twilioFaults = plan.rules.filter((r) => r.service === 'twilio');
  if (twilio.kind === 'real' && twilioFaults.length > 0)
    throw new ConfigError(
      `TWIN_FAULTS names ${twilioFaults.map((r) => r.name).join(', ')}, but TWILIO_ACCOUNT_SID is set: ` +
        'twilio.* faults are played by the Twilio simulator, not by real Twilio. Remove them, or unset TWILIO_ACCOUNT_SID.',
    );
  return plan.rules.length > 0 ? plan : undefined;
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  range: { min: number; max: number },
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < range.min || value > range.max)
    throw new ConfigError(`${name} must be a whole number from ${range.min} to ${range.max}; got '${raw}'.`);
  return value;
}

function url(raw: string, name: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
    return raw.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL; got '${raw}'.`);
  }
}

/**
 * A development secret generated once and kept under DATA_DIR, so it stays the same
 * across restarts (clients and in-flight callbacks keep working) yet is never a default
 * shared by every installation.
 */
export function persistedSecret(
  dataDir: string,
  name: string,
  generate: () => string = () => randomBytes(16).toString('hex'),
): string {
  const file = path.join(dataDir, 'local-secrets.json');
  const secrets: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const existing = secrets[name];
  if (existing) return existing;
  const fresh = generate();
  secrets[name] = fresh;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  replacePrivateFile(file, `${JSON.stringify(secrets, null, 2)}\n`);
  return fresh;
}
