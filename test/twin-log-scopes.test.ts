import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiTwin, startApiTwin } from './support/api-twin.ts';

/**
 * The twin runs every function in one process, many invocations at once: each log line must still
 * name the function and the invocation that wrote it (lib/local/lambda-runtime.ts, scopeInvocations),
 * as each Lambda sandbox's lines do on AWS.
 */
const KEY = 'key-log-scopes-0123456789';
const lines: Record<string, unknown>[] = [];
let api: ApiTwin;
let restoreStdout = () => {};

beforeAll(async () => {
  // The handlers' Logger reads its level when its module loads, with the twin's functions.
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    for (const line of String(chunk).split('\n'))
      if (line.startsWith('{"level"')) lines.push(JSON.parse(line) as Record<string, unknown>);
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  restoreStdout = () => {
    process.stdout.write = write;
  };
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${KEY}`, POWERTOOLS_LOG_LEVEL: 'INFO' });
}, 60_000);

afterAll(async () => {
  restoreStdout();
  await api?.stop();
});

describe('the twin’s log lines', () => {
  it('name the function and the request that wrote them, however many run at once', async () => {
    // Two functions, twenty refused requests each, all at once: each logs `request refused` with its
    // route after an await (the API key's check), while the others' invocations start.
    const bad = (i: number) => [
      api.call('PUT', '/v1/settings', { key: KEY, body: { messagingLimit: -i } }),
      api.call('POST', '/v1/groups', { key: KEY, body: { name: '' } }),
    ];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => bad(i + 1)).flat());
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 40 }, () => 400));

    const refused = lines.filter((l) => l.message === 'request refused');
    expect(refused).toHaveLength(40);
    const functionOf: Record<string, string> = {
      'PUT /v1/settings': 'settings',
      'POST /v1/groups': 'groups',
    };
    expect(refused.map((l) => [l.routeKey, l.function_name])).toEqual(
      refused.map((l) => [l.routeKey, functionOf[String(l.routeKey)]]),
    );
    // One invocation per request: forty request ids, none shared.
    expect(new Set(refused.map((l) => l.function_request_id)).size).toBe(40);
  });

  it('can be written outside every invocation too (a test calling a handler itself), as on classic Lambda', async () => {
    // The handlers' own Logger. Outside every scope the managed-instances store has no slot and
    // refuses ("No context available"); the twin's keeps one, as the classic runtime does.
    const { logger } = await import('../functions/commons/powertools.ts');
    expect(() => {
      logger.appendKeys({ caller: 'the test itself' });
      logger.warn('outside any invocation');
      logger.removeKeys(['caller']);
    }).not.toThrow();
  });
});
