import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, localConfigFromEnv } from '../lib/local/config.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'local-config-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const env = (extra: Record<string, string>) => ({
  DATA_DIR: dataDir,
  LOCAL_API_KEYS: 'acme:key-acme',
  TWILIO_SIMULATOR_AUTH_TOKEN: 'token',
  ...extra,
});

describe('OPT_OUT_CONFIRMATION_TEXT', () => {
  it('is off unless set, and passed to the handlers as it is when set', () => {
    expect(localConfigFromEnv(env({})).handlerSettings).not.toHaveProperty('OPT_OUT_CONFIRMATION_TEXT');
    const text = 'You will get no more messages. Write START to receive them again.';
    expect(localConfigFromEnv(env({ OPT_OUT_CONFIRMATION_TEXT: text })).handlerSettings).toMatchObject({
      OPT_OUT_CONFIRMATION_TEXT: text,
    });
  });

  it("stops the start when it is longer than Twilio's 1,600-character Body", () => {
    expect(() => localConfigFromEnv(env({ OPT_OUT_CONFIRMATION_TEXT: 'x'.repeat(1601) }))).toThrow(
      ConfigError,
    );
    expect(() => localConfigFromEnv(env({ OPT_OUT_CONFIRMATION_TEXT: 'x'.repeat(1601) }))).toThrow(
      /OPT_OUT_CONFIRMATION_TEXT must be at most 1600 characters/,
    );
  });
});

describe('POWERTOOLS_LOG_LEVEL', () => {
  it("takes Powertools' levels in any case, and stops the start on another word", () => {
    expect(localConfigFromEnv(env({ POWERTOOLS_LOG_LEVEL: 'debug' })).handlerSettings).toMatchObject({
      POWERTOOLS_LOG_LEVEL: 'debug',
    });
    expect(() => localConfigFromEnv(env({ POWERTOOLS_LOG_LEVEL: 'LOUD' }))).toThrow(
      /POWERTOOLS_LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL, SILENT; got 'LOUD'/,
    );
  });
});

describe('LOCAL_EVENTS_URL', () => {
  it('is off unless set; an http(s) URL is taken, anything else stops the start naming the variable', () => {
    expect(localConfigFromEnv(env({})).eventsUrl).toBeUndefined();
    expect(localConfigFromEnv(env({ LOCAL_EVENTS_URL: 'http://127.0.0.1:9999/events/' })).eventsUrl).toBe(
      'http://127.0.0.1:9999/events',
    );
    expect(() => localConfigFromEnv(env({ LOCAL_EVENTS_URL: 'localhost:9999' }))).toThrow(
      /LOCAL_EVENTS_URL must be an absolute http\(s\) URL/,
    );
  });
});
