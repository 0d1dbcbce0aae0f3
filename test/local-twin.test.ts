import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoApiKeys } from '../functions/adapters/dynamo-api-keys.ts';
import { createTwilioClient } from '../functions/adapters/twilio-client.ts';
import { hashApiKey } from '../functions/core/api-keys.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { localConfigFromEnv } from '../lib/local/config.ts';
import { TWIN_ENTRIES } from '../lib/local/data-dir.ts';
import { freePort } from '../lib/local/free-port.ts';
import { localSqsClient } from '../lib/local/sqs-local.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { type LocalTwin, REPO_ROOT, startLocalTwin } from '../lib/local/twin.ts';
import { acquireTwinLock, TwinLockedError } from '../lib/local/twin-lock.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import type { Json } from './support/api-twin.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'twin-test-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const quiet = () => {};

/** Processes (other than this test) whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** One GET on its own connection (no pooled keep-alive socket a stopping server may close under it). */
function get(url: string): Promise<{ status: number; headers: Record<string, unknown>; body: Json }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: text ? JSON.parse(text) : undefined,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A `bin/local.ts` child process, with its output collected. It leads a process group of its own, as
 * `npm start` does in a terminal, whose Ctrl-C signals the whole group.
 */
function spawnTwin(env: Record<string, string>) {
  const child: ChildProcess = spawn(path.join(REPO_ROOT, 'node_modules/.bin/node'), ['bin/local.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (c: Buffer) => {
    out.stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out.stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, exited };
}

/**
 * The local addresses listening on TCP `port`, from /proc/net/tcp and tcp6 (hex, as the kernel
 * writes them: 0100007F is 127.0.0.1, 00000000 is 0.0.0.0).
 */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6'])
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '0A' && local?.endsWith(`:${hexPort}`)) found.push(local.slice(0, -5));
    }
  return found;
}
const LOOPBACK = new Set([
  '0100007F', // 127.0.0.1
  '00000000000000000000000001000000', // ::1
  '0000000000000000FFFF00000100007F', // ::ffff:127.0.0.1
]);

/** Whether a TCP connection to host:port is refused (nobody listens there). */
function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** The mode bits of every entry the twin keeps under DATA_DIR, all the way down, by relative path. */
function modesUnder(dataDir: string): Record<string, string> {
  const modes: Record<string, string> = {};
  const walk = (file: string) => {
    const stat = lstatSync(file);
    modes[path.relative(dataDir, file)] = (stat.mode & 0o777).toString(8);
    if (stat.isDirectory()) for (const child of readdirSync(file)) walk(path.join(file, child));
  };
  for (const entry of TWIN_ENTRIES) {
    try {
      walk(path.join(dataDir, entry));
    } catch {
      // Not written by this run.
    }
  }
  return modes;
}

describe('npm start (bin/local.ts)', () => {
  const KEY = 'dev-key-acme-0123456789';
  let dataDir: string;
  let port: number;
  let simPort: number;
  let first: ReturnType<typeof spawnTwin>;

  beforeAll(async () => {
    // A DATA_DIR an earlier version left readable by everyone, with its secrets file 0644.
    dataDir = tempDir();
    chmodSync(dataDir, 0o755);
    writeFileSync(
      path.join(dataDir, 'local-secrets.json'),
      '{"simulatorAuthToken":"0123456789abcdef0123456789abcdef"}\n',
      {
        mode: 0o644,
      },
    );
    [port, simPort] = await Promise.all([freePort(), freePort()]);
    first = spawnTwin({
      PORT: String(port),
      TWILIO_SIMULATOR_PORT: String(simPort),
      DATA_DIR: dataDir,
      LOCAL_API_KEYS: `acme:${KEY}`,
      // A fault at rate 0: its proxy passes everything through, and must stop with the rest.
      TWIN_FAULTS: 'sqs.ServiceUnavailable=0',
      TWIN_FAULTS_SEED: '42',
    });
    await waitFor(() => first.out.stdout.includes('Press Ctrl-C to stop'), {
      timeoutMs: 45_000,
      message: 'npm start did not print its banner within 45 s',
    }).catch((error: Error) => {
      throw new Error(`${error.message}\nstderr:\n${first.out.stderr.slice(-2000)}`);
    });
  }, 60_000);

  afterAll(async () => {
    if (first.child.exitCode === null && first.child.signalCode === null) {
      first.child.kill('SIGINT');
      await first.exited;
    }
  });

  it('answers /healthz with its checks, and prints where everything is', async () => {
    const health = await get(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ ok: true, checks: { dynamodb: 'ok', sqs: 'ok' } });

    const { stdout } = first.out;
    expect(stdout).toContain(`http://127.0.0.1:${port}`);
    expect(stdout).toContain(`http://127.0.0.1:${simPort}`);
    expect(stdout).toMatch(/Account SID\s+AC0{32}/);
    expect(stdout).toMatch(/Scheduler\s+http:\/\/127\.0\.0\.1:\d+\s+schedules: \d+/);
    expect(stdout).toMatch(/Auth token\s+0123456789abcdef0123456789abcdef/);
    expect(stdout).toMatch(/Faults\s+sqs\.ServiceUnavailable 0 % \(TWIN_FAULTS_SEED=42\)/);
    // Where each message's StatusCallback goes: the status webhook's Function URL, a port of its own.
    const callbacks = stdout.match(
      /Status callbacks\s+(http:\/\/127\.0\.0\.1:(\d+)\/webhooks\/twilio\/status)/,
    );
    expect(callbacks?.[2]).not.toBe(String(port));
    const unsigned = await fetch(`${callbacks?.[1]}?b=brd_x&i=0&a=1&t=acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'MessageSid=SM00000000000000000000000000000000&MessageStatus=delivered',
    });
    expect(unsigned.status).toBe(403); // the status webhook itself, checking Twilio's signature
    expect(processesMentioning(dataDir).length).toBeGreaterThan(0); // DynamoDB Local runs
  });

  it('keeps DATA_DIR private: the directory 0700, every file the twin and its emulators wrote 0600', () => {
    expect((lstatSync(dataDir).mode & 0o777).toString(8)).toBe('700');
    const modes = modesUnder(dataDir);
    // What this run wrote: secrets, endpoints, lock, pid, the simulator's log, both databases.
    for (const file of [
      'local-secrets.json',
      'endpoints.json',
      'twin.lock',
      'dynamodb.pid',
      'twilio-simulator.jsonl',
      'dynamodb/shared-local-instance.db',
      'sqs/fauxqs.db',
    ])
      expect(modes[file], file).toBe('600');
    for (const [file, mode] of Object.entries(modes)) {
      const isDir = lstatSync(path.join(dataDir, file)).isDirectory();
      expect(mode, file).toBe(isDir ? '700' : '600');
    }
  });

  it('listens on 127.0.0.1 only: the API, the Twilio simulator, DynamoDB Local and the SQS emulator', async () => {
    const endpoints = JSON.parse(readFileSync(path.join(dataDir, 'endpoints.json'), 'utf8')) as {
      dynamodbEndpoint: string;
      sqsEndpoint: string;
    };
    const ports = {
      api: port,
      simulator: simPort,
      dynamodb: Number(new URL(endpoints.dynamodbEndpoint).port),
      sqs: Number(new URL(endpoints.sqsEndpoint).port),
    };
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    for (const [service, p] of Object.entries(ports)) {
      const addresses = listeningAddresses(p);
      expect(addresses.length, `${service} listens`).toBeGreaterThan(0);
      for (const address of addresses)
        expect(LOOPBACK.has(address), `${service} bound to ${address}`).toBe(true);
      if (outside) expect(await refused(outside, p), `${service} refuses ${outside}:${p}`).toBe(true);
    }
  });

  it('refuses a second start on the same DATA_DIR, naming the PID, and leaves the first serving', async () => {
    const dynamodbPid = readFileSync(path.join(dataDir, 'dynamodb.pid'), 'utf8');
    const secondPort = await freePort();
    const second = spawnTwin({ PORT: String(secondPort), TWILIO_SIMULATOR_PORT: '0', DATA_DIR: dataDir });
    expect(await second.exited).toBe(1);
    expect(second.out.stderr).toContain(`Another local twin is already running on DATA_DIR ${dataDir}`);
    expect(second.out.stderr).toContain(`PID ${first.child.pid}`);
    expect(second.out.stderr).toContain(`kill ${first.child.pid}`);
    expect(second.out.stderr).toContain('DATA_DIR=/some/other/dir npm start');
    expect(await refused('127.0.0.1', secondPort)).toBe(true); // it bound nothing

    // The first one's DynamoDB Local is the same process, and API calls still work.
    expect(readFileSync(path.join(dataDir, 'dynamodb.pid'), 'utf8')).toBe(dynamodbPid);
    expect(processesMentioning(`${dataDir}/dynamodb`)).toEqual([Number(dynamodbPid)]);
    const res = await fetch(`http://127.0.0.1:${port}/v1/suppressions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ phone: '+972501234567' }),
    });
    expect(res.status).toBe(201);
    expect((await get(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  }, 30_000);

  it('Ctrl-C in the middle of a broadcast lets its sends finish and stops cleanly, leaving no process and no lock behind', async () => {
    const created = await fetch(`http://127.0.0.1:${port}/v1/broadcasts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        template: { contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid },
        // Ordinary numbers (the simulator's last-four scenarios start at 5000): every send accepted.
        recipients: Array.from({ length: 200 }, (_, i) => `+97250100${5000 + i}`),
      }),
    });
    expect(created.status).toBe(202);
    // Sending (200 at 80/s take 2.5 s): the simulator has accepted the first messages.
    await waitFor(
      async () => {
        const health = await get(`http://127.0.0.1:${simPort}/_simulator/health`);
        return (health.body as { messages: number }).messages > 0 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, message: 'the broadcast did not start sending' },
    );
    // Ctrl-C as a terminal sends it: SIGINT to every process of the foreground group.
    process.kill(-(first.child.pid as number), 'SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.out.stdout).toContain('Stopped cleanly');
    // DynamoDB Local was still there for the work in flight: no send failed back to SQS, no stream
    // read or scheduled run was refused. And the simulator stopped before the status callbacks' door
    // closed: it gave none up (what it had not posted resumes at the next start), where a stop that
    // closed the door first lost 40-odd statuses of a 300-recipient send.
    for (const refused of [
      'send task failed',
      'stream shard reader failed',
      'scheduled run failed',
      'gave up on',
    ])
      expect(first.out.stderr).not.toContain(refused);
    expect(processesMentioning(dataDir)).toEqual([]);
    expect(readdirSync(dataDir)).not.toContain('twin.lock');
  }, 30_000);
  it('Ctrl-C while it is still starting stops cleanly too, leaving no Java process behind', async () => {
    const dataDir = tempDir();
    const [port, simPort] = await Promise.all([freePort(), freePort()]);
    const child = spawn(path.join(REPO_ROOT, 'node_modules/.bin/node'), ['bin/local.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: String(port), TWILIO_SIMULATOR_PORT: String(simPort), DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (c: Buffer) => {
      output += c.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The simulator is up before DynamoDB Local has booted: the start is under way.
    await waitFor(() => output.includes('listening on'), {
      timeoutMs: 30_000,
      message: 'the start did not begin',
    });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 60_000);

  it.each(['TWILIO_SIMULATOR_PORT', 'DYNAMODB_LOCAL_PORT'])(
    'refuses a port someone holds (%s), naming the setting that moves it, and leaves no Java process behind',
    async (variable) => {
      const dataDir = tempDir();
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const held = (holder.address() as AddressInfo).port;
      try {
        const start = spawnTwin({
          PORT: '0',
          TWILIO_SIMULATOR_PORT: '0',
          [variable]: String(held),
          DATA_DIR: dataDir,
        });
        expect(await start.exited).toBe(1);
        const { stderr } = start.out;
        expect(stderr).toContain(
          `Could not start the local twin: Port ${held} is already in use: stop what is using it, or set ${variable} to another port.`,
        );
        expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
        // The simulator fails at once, DynamoDB Local, still booting then, is stopped all the same; or
        // DynamoDB Local's Java fails to bind, and the rest is stopped.
        expect(processesMentioning(dataDir)).toEqual([]);
      } finally {
        holder.close();
      }
    },
    60_000,
  );

  it('refuses a bad setting with a message naming it', async () => {
    const start = spawnTwin({ PORT: 'eighty', DATA_DIR: tempDir() });
    expect(await start.exited).toBe(1);
    expect(start.out.stderr).toContain("PORT must be a whole number from 0 to 65535; got 'eighty'");
  }, 30_000);
});

describe('local twin state', () => {
  it('keeps tables, queued messages, the simulator log and revoked keys across a restart with the same DATA_DIR', async () => {
    const dataDir = tempDir();
    const seededKey = 'restart-key-acme-0123456789';
    const config = localConfigFromEnv({
      DATA_DIR: dataDir,
      PORT: '0',
      TWILIO_SIMULATOR_PORT: '0',
      LOCAL_API_KEYS: `acme:${seededKey}`,
    });
    const quiet = () => {};

    const first = await startLocalTwin(config, { log: quiet });
    const callbackUrl = first.functionUrls.statusCallback;
    let simulatorSid: string;
    try {
      const ddb = new DynamoDBClient({
        endpoint: first.dynamodbEndpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      await ddb.send(
        new PutItemCommand({
          TableName: first.tableNames.main,
          Item: { pk: { S: 'restart-check' }, sk: { S: 'item' }, value: { S: 'kept' } },
        }),
      );
      // The seeded key revoked (as `api-key revoke --key` does): a restart must not bring it back.
      await new DynamoApiKeys(DynamoDBDocumentClient.from(ddb), first.tableNames.main ?? '').revokeByHash(
        hashApiKey(seededKey),
        new Date(),
      );
      ddb.destroy();
      const sqs = localSqsClient(first.sqsEndpoint);
      const dlq = first.queues.send?.deadLetter;
      if (!dlq) throw new Error('no send DLQ');
      await sqs.send(new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: 'parked' }));
      sqs.destroy();

      const sim = first.simulator;
      if (!sim) throw new Error('no simulator');
      const twilio = createTwilioClient({
        accountSid: sim.accountSid,
        authToken: sim.authToken,
        apiBaseUrl: sim.url,
      });
      const message = await twilio.messages.create({
        to: 'whatsapp:+972501234567',
        from: 'whatsapp:+14155238886',
        body: 'hello',
      });
      simulatorSid = message.sid;
    } finally {
      await first.stop();
    }

    const logged: Record<string, unknown>[] = [];
    const second = await startLocalTwin(config, { log: (entry) => logged.push(entry) });
    try {
      const ddb = new DynamoDBClient({
        endpoint: second.dynamodbEndpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      const item = await ddb.send(
        new GetItemCommand({
          TableName: second.tableNames.main,
          Key: { pk: { S: 'restart-check' }, sk: { S: 'item' } },
        }),
      );
      ddb.destroy();
      expect(item.Item?.value?.S).toBe('kept');

      const sqs = localSqsClient(second.sqsEndpoint);
      const dlq = second.queues.send?.deadLetter;
      if (!dlq) throw new Error('no send DLQ');
      const received = await waitFor(
        async () =>
          (await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.url, WaitTimeSeconds: 1 })))
            .Messages?.[0],
        { timeoutMs: 10_000, message: 'the parked DLQ message did not come back' },
      );
      sqs.destroy();
      expect(received.Body).toBe('parked');

      const sim = second.simulator;
      if (!sim) throw new Error('no simulator');
      const twilio = createTwilioClient({
        accountSid: sim.accountSid,
        authToken: sim.authToken,
        apiBaseUrl: sim.url,
      });
      const fetched = await twilio.messages(simulatorSid).fetch();
      expect(fetched.sid).toBe(simulatorSid);

      const health = await fetch(`${second.apiUrl}/healthz`);
      expect(health.status).toBe(200);

      const refused = await fetch(`${second.apiUrl}/v1/broadcasts`, {
        headers: { authorization: `Bearer ${seededKey}` },
      });
      expect(refused.status).toBe(401);
      const warning = logged.find((e) => String(e.message).includes('LOCAL_API_KEYS'));
      expect(warning).toMatchObject({
        level: 'WARN',
        message: expect.stringContaining("tenant 'acme' was revoked"),
      });
      expect(JSON.stringify(logged)).not.toContain(seededKey);
      // The status callback's Function URL is the same: callbacks the simulator resumes still arrive.
      expect(second.functionUrls.statusCallback).toBe(callbackUrl);
    } finally {
      await second.stop();
    }

    // Its port taken by something else meanwhile: another, said in a warning, and the twin starts.
    const squatter = createServer();
    await new Promise<void>((resolve) =>
      squatter.listen(Number(new URL(callbackUrl ?? '').port), '127.0.0.1', resolve),
    );
    const warned: Record<string, unknown>[] = [];
    const third = await startLocalTwin(config, { log: (entry) => warned.push(entry) });
    try {
      expect(third.functionUrls.statusCallback).not.toBe(callbackUrl);
      expect(warned).toContainEqual(
        expect.objectContaining({ level: 'WARN', message: expect.stringContaining('is taken now') }),
      );
    } finally {
      await third.stop();
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 120_000);
});

describe('the API while the twin starts and stops', () => {
  it('answers 503 STARTING with Retry-After at once while it starts, serves once ready, 503 STOPPING once it stops', async () => {
    const port = await freePort();
    const config = localConfigFromEnv({
      DATA_DIR: tempDir(),
      PORT: String(port),
      TWILIO_SIMULATOR_PORT: '0',
    });
    let held = false;
    let release: () => void = () => {};
    const starting = startLocalTwin(config, {
      log: quiet,
      // Holds the start when everything is up, so the test sees the STARTING answer whatever the timing.
      beforeReady: () =>
        new Promise<void>((resolve) => {
          held = true;
          release = resolve;
        }),
    });
    let twin: LocalTwin | undefined;
    try {
      // The port answers from the first moment (DynamoDB Local takes seconds to boot): at once, with 503.
      const early = await waitFor(() => get(`http://127.0.0.1:${port}/healthz`).catch(() => undefined), {
        timeoutMs: 10_000,
        message: 'the API port did not answer during the start',
      });
      expect(early.status).toBe(503);
      expect(early.headers['retry-after']).toBe('1');
      expect(early.body.error).toEqual({ code: 'STARTING', message: expect.stringContaining('starting') });

      await waitFor(() => held, { timeoutMs: 45_000, message: 'the start did not reach the test hook' });
      const admin = await get(`http://127.0.0.1:${port}/v1/broadcasts`);
      expect(admin.status).toBe(503);
      expect(admin.body.error.code).toBe('STARTING');

      release();
      twin = await starting;
      expect((await get(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      release();
      twin ??= await starting;
    }

    const stopped = twin.stop();
    const late = await get(`http://127.0.0.1:${port}/healthz`);
    expect(late.status).toBe(503);
    expect(late.headers['retry-after']).toBe('1');
    expect(late.body.error.code).toBe('STOPPING');
    await stopped;
    expect(await refused('127.0.0.1', port)).toBe(true);
  }, 60_000);
});

describe('/healthz tells the truth', () => {
  it('answers 503 DEPENDENCY_UNAVAILABLE naming DynamoDB when DynamoDB Local is gone', async () => {
    const dataDir = tempDir();
    const twin = await startLocalTwin(
      localConfigFromEnv({ DATA_DIR: dataDir, PORT: '0', TWILIO_SIMULATOR_PORT: '0' }),
      { log: quiet },
    );
    try {
      expect((await get(`${twin.apiUrl}/healthz`)).body).toEqual({
        ok: true,
        checks: { dynamodb: 'ok', sqs: 'ok' },
      });
      // The test's own twin's Java process (its PID file), nothing else.
      const java = Number(readFileSync(path.join(dataDir, 'dynamodb.pid'), 'utf8'));
      process.kill(java, 'SIGKILL');
      const health = await waitFor(
        async () => {
          const res = await get(`${twin.apiUrl}/healthz`);
          return res.status === 503 ? res : undefined;
        },
        { timeoutMs: 10_000, message: '/healthz kept answering 200 without DynamoDB Local' },
      );
      expect(health.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
      expect(health.body.error.message).toBe('Not healthy: dynamodb unavailable');
      expect(health.body.error.details).toEqual([
        { dependency: 'dynamodb', message: expect.stringMatching(/^(failed|did not answer)/) },
      ]);
    } finally {
      await twin.stop();
    }
  }, 60_000);
});

describe('DATA_DIR/twin.lock', () => {
  it("holds the owner's PID and start time, and refuses a second owner while the first runs", async () => {
    const dataDir = tempDir();
    // A start time after this machine booted (one before it marks the lock stale: its PID is reused).
    const startedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000).toISOString();
    const lock = await acquireTwinLock(dataDir, new Date(startedAt));
    expect(lock.tookOver).toBe(false);
    expect(JSON.parse(readFileSync(lock.file, 'utf8'))).toMatchObject({ pid: process.pid, startedAt });
    expect((lstatSync(lock.file).mode & 0o777).toString(8)).toBe('600');
    const second = await acquireTwinLock(dataDir).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(TwinLockedError);
    expect((second as Error).message).toContain(`PID ${process.pid}, started ${startedAt}`);
    lock.release();
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('takes over a lock whose process is gone, and says whose it was', async () => {
    const dataDir = tempDir();
    // A PID that just ended: a process this test started and waited for.
    const gone = spawn(process.execPath, ['-e', '']);
    const pid = gone.pid as number;
    await new Promise((resolve) => gone.once('exit', resolve));
    const stale = {
      pid,
      startedAt: new Date().toISOString(),
      hostname: hostname(),
    };
    writeFileSync(path.join(dataDir, 'twin.lock'), JSON.stringify(stale));
    const lock = await acquireTwinLock(dataDir);
    expect(lock.tookOver).toBe(true);
    expect(lock.previousOwner).toEqual(stale);
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('a start that finds a live owner touches nothing: no port, no file, no process', async () => {
    const dataDir = tempDir();
    const lock = await acquireTwinLock(dataDir);
    mkdirSync(path.join(dataDir, 'dynamodb'));
    try {
      const port = await freePort();
      const error = await startLocalTwin(
        localConfigFromEnv({ DATA_DIR: dataDir, PORT: String(port), TWILIO_SIMULATOR_PORT: '0' }),
        { log: quiet },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TwinLockedError);
      expect(await refused('127.0.0.1', port)).toBe(true);
      expect(readdirSync(dataDir).sort()).toEqual(['dynamodb', 'local-secrets.json', 'twin.lock']);
      expect(processesMentioning(dataDir)).toEqual([]);
    } finally {
      lock.release();
    }
  });
});
