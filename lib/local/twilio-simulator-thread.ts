/**
 * The Twilio simulator on a thread of its own, as Twilio is a service of its own: what the local
 * twin runs. In the twin's one event loop, a create sent on time waited behind whatever the loop was
 * doing (stream polls, callbacks, the API) before the simulator stamped it and checked its sender's
 * rate: up to 75 ms late, p99 34 ms (measured in the send-rate bench), so sends paced 13 ms apart
 * arrived bunched and a second could count 81 of 80. On its own thread it stamps each create when it
 * arrives, and its own work (answers, signed callbacks) leaves the handlers' loop.
 *
 * The answer is the same TwilioSimulator. Its reads (messages(), messageCount(), …) stay synchronous:
 * each is a message to the thread and an Atomics.wait for the answer, well under a millisecond.
 * The options are startTwilioSimulator's, less `now` (a function cannot cross to a thread; the
 * simulator's own tests that set a clock run it in their thread).
 */
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { FaultLog } from './faults/injector.ts';
import type { FaultPlan } from './faults/spec.ts';
import { PortInUseError } from './free-port.ts';
import type { SimulatorThreadData, ThreadRead } from './twilio-simulator/worker.ts';
import type { TwilioSimulator, TwilioSimulatorOptions } from './twilio-simulator.ts';

const WORKER = fileURLToPath(new URL('./twilio-simulator/worker.ts', import.meta.url));
/** A read the thread has not answered by then is a hung simulator, not a slow one. */
const READ_TIMEOUT_MS = 10_000;

export type SimulatorThreadOptions = Omit<TwilioSimulatorOptions, 'now' | 'faults'> & {
  /** TWIN_FAULTS: its twilio.* rules are drawn and played in the thread, from their own seeded streams. */
  faultPlan?: FaultPlan;
  /** Each fault the thread injected, as the host's FaultInjector logs its own. */
  faultLog?: FaultLog;
  /** The thread failed or exited unasked (creates to the simulator fail from then on); default `log`. */
  logError?: (line: string) => void;
};

export interface SimulatorThread extends TwilioSimulator {
  /** Faults the simulator injected (the plan's twilio.* rules, 0 included), by rule name. */
  injectedFaults(): Record<string, number>;
}

type ThreadAnswer<T> = { id: number } & ({ value: T } | { error: { name: string; message: string } });

type ThreadMessage =
  | { kind: 'ready'; url: string; port: number }
  | { kind: 'failed'; error: { name: string; message: string; code?: string } }
  | { kind: 'log'; line: string }
  | { kind: 'fault'; entry: Record<string, unknown> }
  | { kind: 'stopped'; error?: { message: string } };

/**
 * Starts the simulator in a worker thread; resolves once it listens. Rejects as
 * startTwilioSimulator does (a PortInUseError for a taken TWILIO_SIMULATOR_PORT).
 */
export async function startTwilioSimulatorThread(options: SimulatorThreadOptions): Promise<SimulatorThread> {
  const log = options.log ?? ((line: string) => console.log(`[twilio-simulator] ${line}`));
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1: calls, port2: threadCalls } = new MessageChannel();
  const logError = options.logError ?? log;
  const { log: _log, logError: _logError, faultPlan, faultLog, resumeWhen, ...cloneable } = options;
  const data: SimulatorThreadData = {
    options: cloneable,
    ...(faultPlan ? { faultPlan } : {}),
    signal,
    calls: threadCalls,
    resumeLater: resumeWhen !== undefined,
  };
  const worker = new Worker(WORKER, { workerData: data, transferList: [threadCalls] });
  let stopped: Promise<void> | undefined;
  let listening = false;
  let exited = false;
  /** Settles a stop() in progress: at the thread's `stopped`, or at its exit, whichever comes first. */
  let onStopped: (error?: Error) => void = () => {};

  const started = new Promise<{ url: string; port: number }>((resolve, reject) => {
    worker.on('message', (message: ThreadMessage) => {
      switch (message.kind) {
        case 'ready':
          listening = true;
          resolve(message);
          break;
        case 'failed':
          reject(
            message.error.name === 'PortInUseError'
              ? new PortInUseError(options.port ?? 3010, 'TWILIO_SIMULATOR_PORT')
              : Object.assign(new Error(message.error.message), { code: message.error.code }),
          );
          break;
        case 'log':
          log(message.line);
          break;
        case 'fault':
          faultLog?.(message.entry);
          break;
        case 'stopped':
          onStopped(message.error ? new Error(message.error.message) : undefined);
          break;
      }
    });
    worker.once('error', (error) => {
      if (listening) logError(`the simulator's thread failed: ${error.message}`);
      reject(error);
    });
    worker.once('exit', (code) => {
      exited = true;
      reject(new Error(`the Twilio simulator's thread exited with code ${code} before it listened`));
      if (listening && !stopped)
        logError(`the simulator's thread exited (code ${code}): creates to it fail until the twin restarts`);
      onStopped();
    });
  });
  let address: { url: string; port: number };
  try {
    address = await started;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  if (resumeWhen)
    void resumeWhen.then(
      () => worker.postMessage({ kind: 'resume' }),
      () => {},
    );

  let lastCall = 0;
  let lastFaults: Record<string, number> = {};
  const read = <T>(method: ThreadRead, ...args: unknown[]): T => {
    if (stopped || exited) throw new Error(`the Twilio simulator has stopped (${method})`);
    const id = ++lastCall;
    const deadline = Date.now() + READ_TIMEOUT_MS;
    // signal[0] counts the thread's answers: a wait on the count seen before the queue was read
    // returns at once when an answer came in between, so none is missed.
    let answered = Atomics.load(signal, 0);
    calls.postMessage({ id, method, args });
    for (;;) {
      // An answer to an earlier read that timed out may come first: skipped.
      for (let received = receiveMessageOnPort(calls); received; received = receiveMessageOnPort(calls)) {
        const answer = received.message as ThreadAnswer<T>;
        if (answer.id !== id) continue;
        if ('error' in answer)
          throw Object.assign(new Error(answer.error.message), { name: answer.error.name });
        return answer.value;
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(signal, 0, answered, left) === 'timed-out')
        throw new Error(
          `the Twilio simulator's thread did not answer ${method}() within ${READ_TIMEOUT_MS} ms`,
        );
      answered = Atomics.load(signal, 0);
    }
  };

  return {
    url: address.url,
    port: address.port,
    accountSid: options.accountSid,
    authToken: options.authToken,
    messages: () => read('messages'),
    messageCount: () => read('messageCount'),
    messagesTo: (to) => read('messagesTo', to),
    inbound: () => read('inbound'),
    unsubscribe: (phone) => read('unsubscribe', phone),
    unsubscribedCount: () => read('unsubscribedCount'),
    templates: () => read('templates'),
    // Counts stay readable after a stop (a drill reads them once its twin has stopped).
    injectedFaults: () => {
      if (!stopped && !exited) lastFaults = read('injectedFaults');
      return lastFaults;
    },
    stop() {
      if (!stopped && !exited) lastFaults = read<Record<string, number>>('injectedFaults');
      stopped ??= new Promise<void>((resolve, reject) => {
        let settled = false;
        onStopped = (error) => {
          if (settled) return;
          settled = true;
          calls.close();
          void worker.terminate().then(() => (error ? reject(error) : resolve()));
        };
        // A thread that already exited (it crashed) has nothing left to stop.
        if (exited) onStopped();
        else worker.postMessage({ kind: 'stop' });
      });
      return stopped;
    },
  };
}
