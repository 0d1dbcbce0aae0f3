import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../lib/local/free-port.ts';
import { REPO_ROOT } from '../lib/local/twin.ts';
import { waitFor } from '../lib/local/wait-for.ts';

const KEY = 'key-restart-0123456789';
const dataDir = mkdtempSync(path.join(tmpdir(), 'restart-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  // A DynamoDB Local orphaned by the SIGKILL below is ours to clean up too.
  for (const pid of javaOf(dataDir)) process.kill(pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function javaOf(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${dir}/dynamodb`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function startTwin(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(path.join(REPO_ROOT, 'node_modules/.bin/node'), ['bin/local.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', () => {});
  await waitFor(() => out.includes('Press Ctrl-C to stop'), {
    timeoutMs: 30_000,
    message: 'the twin did not start',
  });
  return child;
}

describe('a restart in the middle of a broadcast', () => {
  it('kill -9 mid-broadcast, start again on the same DATA_DIR: every recipient ends final, each messaged once', async () => {
    const [port, simPort] = await Promise.all([freePort(), freePort()]);
    const env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      TWILIO_SIMULATOR_PORT: String(simPort),
      LOCAL_API_KEYS: `acme:${KEY}`,
      SIM_MPS: '1000',
      SIM_LATENCY_MS: '5',
      // Short leases and sweeps so recovery fits in a test; the mechanism is the same as on AWS.
      SEND_LEASE_SECONDS: '3',
      SWEEP_SCHEDULE_SECONDS: '2',
      SWEEP_STALE_SECONDS: '4',
      RETRY_SCHEDULE_SECONDS: '2',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    };
    const api = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    // Last four digits from 1000 up: none of the simulator's special 000x endings.
    const recipients = Array.from({ length: 150 }, (_, i) => `+97250${3_001_000 + i * 7}`);
    const messages = async () =>
      (await (await fetch(`http://127.0.0.1:${simPort}/_simulator/messages`)).json()) as { to: string }[];

    const first = await startTwin(env);
    const created = (await (
      await fetch(`${api}/v1/broadcasts`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ template: { contentSid: `HX${'ef'.repeat(16)}` }, recipients }),
      })
    ).json()) as { broadcastId: string };
    const id = created.broadcastId as string;
    await waitFor(async () => (await messages()).length >= 20, {
      timeoutMs: 60_000,
      message: 'the broadcast did not get going',
    });
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const sentBeforeCrash = (await messages().catch(() => [])).length;

    const second = await startTwin(env);
    const done = await waitFor(
      async () => {
        const body = (await (await fetch(`${api}/v1/broadcasts/${id}`, { headers })).json()) as {
          status: string;
          counts: Record<string, number>;
        };
        return ['completed', 'partial', 'failed'].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 1000, message: 'the broadcast did not finish after the restart' },
    );
    expect(done.status).toBe('completed');
    expect(Object.values(done.counts).reduce((a, b) => a + b, 0)).toBe(150);
    const perRecipient = new Map<string, number>();
    for (const m of await messages()) perRecipient.set(m.to, (perRecipient.get(m.to) ?? 0) + 1);
    expect(recipients.map((to) => perRecipient.get(`whatsapp:${to}`) ?? 0)).toEqual(recipients.map(() => 1));
    expect(sentBeforeCrash).toBeLessThan(150); // it really was cut off mid-way

    second.kill('SIGINT');
    expect(await new Promise((resolve) => second.once('exit', resolve))).toBe(0);
  }, 240_000);
});
