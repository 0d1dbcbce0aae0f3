import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import type { TestProject } from 'vitest/node';
import { JavaMissingError, startDynamoDbLocal } from '../../lib/local/dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The suite's one DynamoDB Local (test/support/shared-dynamodb.ts), or '' when a file starts its own. */
    sharedDynamodbEndpoint: string;
  }
}

/**
 * Vitest global setup: one DynamoDB Local for the whole run, in memory, one database per access key
 * (no `-sharedDb`), so that each test file's process, under a key of its own
 * (dynamodb-namespace.ts), has tables of its own while they all share one JVM. A JVM per file
 * cost about 2 CPU-seconds to start and more to warm up, and DynamoDB Local's JVMs were 300 of a
 * run's ~700 CPU-seconds (2026-12-02); this one starts once and stays warm. Files that test
 * DynamoDB Local's own start, or a twin's restart with its data, still start their own. Without
 * Java, nothing is shared: files that need no DynamoDB still run, the others fail as they did.
 */
export default async function setup(project: TestProject) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'shared-dynamodb-'));
  // The JVM options the files' own DynamoDB Locals get (vitest.config.ts `env`: the client compiler
  // only, which cost less CPU here too: 49 against 66 CPU-seconds for three files with the default).
  const javaOptions = project.config.env?.JAVA_TOOL_OPTIONS;
  if (javaOptions) process.env.JAVA_TOOL_OPTIONS = String(javaOptions);
  try {
    const dynamodb = await startDynamoDbLocal({ dataDir, perAccessKeyInMemory: true });
    project.provide('sharedDynamodbEndpoint', dynamodb.endpoint);
    return async () => {
      await dynamodb.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    if (!(error instanceof JavaMissingError)) throw error;
    project.provide('sharedDynamodbEndpoint', '');
    return undefined;
  }
}

let claimedBy: string | undefined;

/**
 * The shared DynamoDB Local for one twin or test database of this file's process: their tables are
 * named alike under the process's one key, so a second at once would share the first's tables (and
 * lose them at the first's stop); it is refused. Without a shared instance: no endpoint.
 */
export function claimSharedDynamodb(who: string): { endpoint?: string; release(): void } {
  const endpoint = inject('sharedDynamodbEndpoint');
  if (!endpoint) return { release() {} };
  if (claimedBy)
    throw new Error(
      `${who}: this test file already has ${claimedBy} on the shared DynamoDB Local, with tables of the same names; use one per file`,
    );
  claimedBy = who;
  return {
    endpoint,
    release() {
      claimedBy = undefined;
    },
  };
}
