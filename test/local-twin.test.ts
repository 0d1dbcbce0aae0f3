import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../functions/adapters/twilio-client.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { localConfigFromEnv } from '../lib/local/config.ts';
import { freePort } from '../lib/local/free-port.ts';
import { localSqsClient } from '../lib/local/sqs-local.ts';
import { REPO_ROOT, startLocalTwin } from '../lib/local/twin.ts';
import { waitFor } from '../lib/local/wait-for.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'twin-test-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

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

describe('npm start (bin/local.ts)', () => {
  it('answers /healthz on free ports, prints where everything is, and Ctrl-C leaves no process behind', async () => {
    const dataDir = tempDir();
    const [port, simPort] = await Promise.all([freePort(), freePort()]);
    const child: ChildProcess = spawn(path.join(REPO_ROOT, 'node_modules/.bin/node'), ['bin/local.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        TWILIO_SIMULATOR_PORT: String(simPort),
        DATA_DIR: dataDir,
        // A fault at rate 0: its proxy passes everything through, and must stop with the rest.
        TWIN_FAULTS: 'sqs.ServiceUnavailable=0',
        TWIN_FAULTS_SEED: '42',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => stdout.includes('Press Ctrl-C to stop'), {
        timeoutMs: 30_000,
        message: 'npm start did not print its banner within 30 s',
      }).catch((error: Error) => {
        throw new Error(`${error.message}\nstderr:\n${stderr.slice(-2000)}`);
      });
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ ok: true });

      expect(stdout).toContain(`http://127.0.0.1:${port}`);
      expect(stdout).toContain(`http://127.0.0.1:${simPort}`);
      expect(stdout).toMatch(/Account SID\s+AC0{32}/);
      expect(stdout).toMatch(/Auth token\s+[0-9a-f]{32}/);
      expect(stdout).toMatch(/Faults\s+sqs\.ServiceUnavailable 0 % \(TWIN_FAULTS_SEED=42\)/);
      expect(processesMentioning(dataDir).length).toBeGreaterThan(0); // DynamoDB Local runs
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(stdout).toContain('Stopped cleanly');
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 60_000);

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

  it('refuses a bad setting with a message naming it', async () => {
    const child = spawn(path.join(REPO_ROOT, 'node_modules/.bin/node'), ['bin/local.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: 'eighty', DATA_DIR: tempDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain("PORT must be a whole number from 0 to 65535; got 'eighty'");
  }, 30_000);
});

describe('local twin state', () => {
  it('keeps tables, queued messages and the simulator log across a restart with the same DATA_DIR', async () => {
    const dataDir = tempDir();
    const config = localConfigFromEnv({ DATA_DIR: dataDir, PORT: '0', TWILIO_SIMULATOR_PORT: '0' });
    const quiet = () => {};

    const first = await startLocalTwin(config, { log: quiet });
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

    const second = await startLocalTwin(config, { log: quiet });
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
    } finally {
      await second.stop();
    }
  }, 90_000);
});
