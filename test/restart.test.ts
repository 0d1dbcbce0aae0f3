import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../lib/local/free-port.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { REPO_ROOT } from '../lib/local/twin.ts';
import { waitFor } from '../lib/local/wait-for.ts';

/**
 * kill -9 of `npm start` at the moments that matter, then a start on the same DATA_DIR (on AWS: a
 * Lambda that dies at its timeout or out of memory). Recovery is the fast path alone (core/recovery.ts):
 * the sweeper's stall-based path is left at its default (15 minutes) so it cannot be what recovers.
 * The bound: a task whose invocation died comes back after its queue's visibility timeout (60 s), its
 * claim's lease over by then; every recipient must be final well within that plus a send.
 */
const KEY = 'key-restart-0123456789';
const RECOVERY_BOUND_MS = 120_000;
const dirs: string[] = [];
const children: ChildProcess[] = [];
const stderrOf = new WeakMap<ChildProcess, () => string>();
/** What a dead twin left: its exit and its stderr's tail (a failure's message, not an assertion). */
const deathOf = (child: ChildProcess) =>
  child.exitCode === null && child.signalCode === null
    ? ''
    : `; the twin exited (code ${child.exitCode}, signal ${child.signalCode}): ${stderrOf.get(child)?.() ?? ''}`;

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) {
    // A DynamoDB Local left running (the check below failed) is ours to clean up too.
    for (const pid of javaOf(dir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
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
  // The last of its stderr, to say why when a twin dies in a test (kept short; never asserted on).
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-4000);
  });
  stderrOf.set(child, () => err);
  // A twin that exits before its banner says why at once (its stderr), rather than at the deadline.
  const died = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`the twin exited (code ${code}, signal ${signal}) before its banner`)),
    ),
  );
  await Promise.race([
    waitFor(() => out.includes('Press Ctrl-C to stop'), {
      timeoutMs: 45_000,
      message: 'the twin did not start',
    }),
    died,
  ]).catch((error: Error) => {
    throw new Error(`${error.message}; its output's tail: ${out.slice(-1500)}; stderr's tail: ${err}`, {
      cause: error,
    });
  });
  return child;
}

async function scenario(options: {
  recipients: string[];
  env: Record<string, string>;
  killWhen: (ctx: Ctx) => Promise<boolean>;
}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'restart-'));
  dirs.push(dataDir);
  const [port, simPort] = await Promise.all([freePort(), freePort()]);
  const env = {
    DATA_DIR: dataDir,
    PORT: String(port),
    TWILIO_SIMULATOR_PORT: String(simPort),
    LOCAL_API_KEYS: `acme:${KEY}`,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    ...options.env,
  };
  const api = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const messages = async () =>
    (await (await fetch(`http://127.0.0.1:${simPort}/_simulator/messages`)).json()) as { to: string }[];
  // Polled every 20 ms for the moment to kill: a count, not every message serialized each time.
  const accepted = async () =>
    ((await (await fetch(`http://127.0.0.1:${simPort}/_simulator/health`)).json()) as { messages: number })
      .messages;
  const broadcast = async (id: string) =>
    (await (await fetch(`${api}/v1/broadcasts/${id}`, { headers })).json()) as {
      status: string;
      counts: Record<string, number>;
    };

  const first = await startTwin(env);
  const created = (await (
    await fetch(`${api}/v1/broadcasts`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        template: { contentSid: SAMPLE_TEMPLATES.coopNotice.contentSid },
        recipients: options.recipients,
      }),
    })
  ).json()) as { broadcastId: string };
  const id = created.broadcastId;
  const ctx: Ctx = { accepted, broadcast: () => broadcast(id) };
  await waitFor(() => options.killWhen(ctx), {
    timeoutMs: 60_000,
    intervalMs: 20,
    message: 'the moment to kill never came',
  });
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  // Its DynamoDB Local (a process group of its own) must not outlive it.
  await waitFor(() => javaOf(dataDir).length === 0, {
    timeoutMs: 15_000,
    message: 'DynamoDB Local kept running after its twin was killed',
  });

  const second = await startTwin(env);
  const restarted = Date.now();
  const done = await waitFor(
    async () => {
      const body = await broadcast(id);
      return ['completed', 'partial', 'failed'].includes(body.status) ? body : undefined;
    },
    {
      timeoutMs: RECOVERY_BOUND_MS,
      intervalMs: 500,
      message: `not final within the recovery bound (${RECOVERY_BOUND_MS} ms)`,
    },
  ).catch((error: Error) => {
    throw new Error(`${error.message}${deathOf(second)}`, { cause: error });
  });
  const recoveredInMs = Date.now() - restarted;
  // Exactly one message per recipient at "Twilio", and counts that add up (after the aggregator's last batch).
  const perRecipient = new Map<string, number>();
  for (const m of await messages()) perRecipient.set(m.to, (perRecipient.get(m.to) ?? 0) + 1);
  const counts = await waitFor(
    async () => {
      const body = await broadcast(id);
      return Object.values(body.counts).reduce((a, b) => a + b, 0) === options.recipients.length &&
        (body.counts.sent ?? 0) + (body.counts.delivered ?? 0) + (body.counts.read ?? 0) ===
          options.recipients.length
        ? body.counts
        : undefined;
    },
    { timeoutMs: 15_000, message: 'the counts did not settle on every recipient sent' },
  );
  second.kill('SIGINT');
  const exitCode = await new Promise((resolve) => second.once('exit', resolve));
  return { done, counts, perRecipient, recoveredInMs, exitCode };
}

interface Ctx {
  /** How many messages Twilio (the simulator) has accepted. */
  accepted(): Promise<number>;
  broadcast(): Promise<{ status: string; counts: Record<string, number> }>;
}

// Last four digits from 1000 up: none of the simulator's special 000x endings.
const phones = (n: number, base: number) => Array.from({ length: n }, (_, i) => `+97250${base + i * 7}`);

describe('kill -9 of npm start, then a start on the same DATA_DIR', () => {
  it('during the fan-out: every recipient is sent exactly once, within the recovery bound', async () => {
    const recipients = phones(300, 3_001_000);
    const result = await scenario({
      recipients,
      env: { SIM_MPS: '1000', SIM_LATENCY_MS: '5', SENDER_MPS: '200' },
      // Right after the 202: the list is being handed to the send queue (recipients counted pending),
      // or, when the counts' stream batches fold that moment away on a busy machine, as the first
      // messages reach Twilio with most of the list still queued.
      killWhen: async (ctx) => {
        const [accepted, broadcast] = await Promise.all([ctx.accepted(), ctx.broadcast()]);
        return (broadcast.counts.pending ?? 0) > 0 || (accepted > 0 && accepted < 100);
      },
    });
    expect(result.done.status).toBe('completed');
    expect(recipients.filter((to) => result.perRecipient.get(`whatsapp:${to}`) !== 1)).toEqual([]);
    expect(result.exitCode).toBe(0);
  }, 240_000);

  it('with claims waiting for their send slots and creates in flight at Twilio: each recipient messaged once', async () => {
    const recipients = phones(40, 3_101_000);
    let inFlight = 0;
    const result = await scenario({
      recipients,
      // Paced at 10/s, and Twilio takes 1.5 s to answer: at the kill, some recipients are claimed and
      // waiting for their slot (no call made), and some creates were accepted but not yet answered
      // (the message exists at Twilio; no SID is recorded here).
      env: { SIM_MPS: '1000', SIM_LATENCY_MS: '1500', SENDER_MPS: '10' },
      killWhen: async (ctx) => {
        const [accepted, broadcast] = await Promise.all([ctx.accepted(), ctx.broadcast()]);
        inFlight = broadcast.counts.sending ?? 0;
        return accepted >= 8 && inFlight >= 5;
      },
    });
    expect(inFlight).toBeGreaterThanOrEqual(5);
    expect(result.done.status).toBe('completed');
    expect(recipients.filter((to) => result.perRecipient.get(`whatsapp:${to}`) !== 1)).toEqual([]);
    expect(result.exitCode).toBe(0);
  }, 240_000);
});
