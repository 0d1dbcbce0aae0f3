import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, localConfigFromEnv } from '../lib/local/config.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../lib/local/dynamodb-local.ts';
import { fileTempDir } from './support/temp-dir.ts';

/**
 * DynamoDB Local yields the CPU to the twin's handlers (lib/local/cpu-priority.ts): every thread
 * of its JVM at the nice value asked for, and on Linux its session's autogroup too, which is what
 * the scheduler weighs against the twin's process. What `ps -o ni` and /proc/PID/autogroup show.
 */

let dynamodb: DynamoDbLocal | undefined;
afterEach(async () => {
  await dynamodb?.stop();
  dynamodb = undefined;
});

/** The nice value of each thread of `pid` (Linux: a thread ID is a setpriority target). */
const threadNiceness = (pid: number) =>
  readdirSync(`/proc/${pid}/task`).map((tid) => getPriority(Number(tid)));

/** The autogroup's nice value ("/autogroup-7 nice 10"), or undefined on a kernel without autogroup. */
const autogroupNiceness = (pid: number) => {
  const file = `/proc/${pid}/autogroup`;
  return existsSync(file) ? Number(/nice (-?\d+)/.exec(readFileSync(file, 'utf8'))?.[1]) : undefined;
};

describe.runIf(process.platform === 'linux')('DynamoDB Local started at a lower CPU priority', () => {
  it('runs every JVM thread and its session at the nice value asked for, and answers', async () => {
    dynamodb = await startDynamoDbLocal({ dataDir: fileTempDir('ddb-nice-'), niceness: 10 });
    const threads = threadNiceness(dynamodb.pid);
    expect(threads.length).toBeGreaterThan(5); // the JVM's own threads, started after the exec
    // `nice -n 10` lowers from this process's own priority (0 unless the suite itself runs niced).
    expect(new Set(threads)).toEqual(new Set([Math.min(19, getPriority() + 10)]));
    const group = autogroupNiceness(dynamodb.pid);
    if (group !== undefined) expect(group).toBe(10);
    expect(dynamodb.warnings.join('\n')).not.toMatch(/CPU priority/);
  }, 60_000);

  it("runs at this process's priority when asked for none", async () => {
    dynamodb = await startDynamoDbLocal({ dataDir: fileTempDir('ddb-nice-') });
    expect(new Set(threadNiceness(dynamodb.pid))).toEqual(new Set([getPriority()]));
    const group = autogroupNiceness(dynamodb.pid);
    if (group !== undefined) expect(group).toBe(0);
  }, 60_000);
});

describe('DYNAMODB_LOCAL_NICE', () => {
  const env = (extra: Record<string, string>) => ({
    DATA_DIR: fileTempDir('ddb-nice-config-'),
    LOCAL_API_KEYS: 'acme:key-acme',
    ...extra,
  });

  it('is 0 (no change) unless set, takes 0 to 19, and stops the start on anything else', () => {
    expect(localConfigFromEnv(env({})).dynamodbNiceness).toBe(0);
    expect(localConfigFromEnv(env({ DYNAMODB_LOCAL_NICE: '10' })).dynamodbNiceness).toBe(10);
    expect(localConfigFromEnv(env({ DYNAMODB_LOCAL_NICE: '19' })).dynamodbNiceness).toBe(19);
    for (const value of ['20', '-5', 'low']) {
      expect(() => localConfigFromEnv(env({ DYNAMODB_LOCAL_NICE: value }))).toThrow(ConfigError);
      expect(() => localConfigFromEnv(env({ DYNAMODB_LOCAL_NICE: value }))).toThrow(/DYNAMODB_LOCAL_NICE/);
    }
  });
});
