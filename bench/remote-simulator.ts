/**
 * The bench's handle on the Twilio simulator running in its own process (bench/simulator-child.ts):
 * where it listens, what it accepted, when it answered 429. The twin talks to it as to real Twilio
 * (TWILIO_API_BASE_URL), so the twin's one event loop carries only what ours would on AWS.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimulatedMessage } from '../lib/local/twilio-simulator.ts';
import type { ChildMessage, ChildRequest, SimulatorChildSettings } from './simulator-child.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'simulator-child.ts');
const READY_TIMEOUT_MS = 30_000;

export interface RemoteSimulator {
  readonly url: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** The simulator process, for its CPU time (bench/cpu.ts). */
  readonly pid: number;
  /** When (epoch ms) the simulator answered 429 because a sender went over its limit. */
  readonly overLimitAnswers: number[];
  /** How many messages it holds (a number over IPC: cheap to poll). */
  messageCount(): Promise<number>;
  /** Every message it accepted, oldest first. */
  messages(): Promise<SimulatedMessage[]>;
  stop(): Promise<void>;
}

/** Forks the simulator with these settings; resolves once it listens. */
export async function startRemoteSimulator(settings: SimulatorChildSettings): Promise<RemoteSimulator> {
  const child = fork(CHILD, [JSON.stringify(settings)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const overLimitAnswers: number[] = [];
  const pending = new Map<number, (value: unknown) => void>();
  let nextId = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the simulator process did not start within 30 s')),
      READY_TIMEOUT_MS,
    );
    child.once('exit', (code) =>
      reject(new Error(`the simulator process exited with code ${code} before it listened`)),
    );
    child.on('message', (message: ChildMessage) => {
      if (message.kind === 'ready') {
        clearTimeout(timer);
        resolve(message.url);
      } else if (message.kind === 'overLimit') overLimitAnswers.push(message.at);
      else {
        pending.get(message.id)?.(message.value);
        pending.delete(message.id);
      }
    });
  }).catch((error: unknown) => {
    child.kill();
    throw error;
  });
  const ask = <T>(kind: ChildRequest['kind']) =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) {
        reject(new Error('the simulator process is gone'));
        return;
      }
      const id = nextId++;
      pending.set(id, resolve as (value: unknown) => void);
      child.send({ kind, id } satisfies ChildRequest);
    });
  return {
    url,
    accountSid: settings.accountSid,
    authToken: settings.authToken,
    pid: child.pid ?? 0,
    overLimitAnswers,
    messageCount: () => ask<number>('count'),
    messages: () => ask<SimulatedMessage[]>('messages'),
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.connected) child.disconnect();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
