/**
 * The Twilio simulator's own thread (started by ../twilio-simulator-thread.ts). It runs the same
 * simulator, and answers its host over three channels:
 * - `parentPort`: `{ kind: 'ready' | 'failed' | 'log' | 'stopped' }` to the host; `{ kind: 'resume' }`
 *   and `{ kind: 'stop' }` from it;
 * - `calls`: the host's synchronous reads (`{ id, method, args }`), answered on the same port with
 *   `{ id, value } | { id, error }`, then `signal[0]` one more and a notify, which wakes the host's
 *   Atomics.wait.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { FaultInjector } from '../faults/injector.ts';
import type { FaultPlan } from '../faults/spec.ts';
import {
  startTwilioSimulator,
  type TwilioSimulator,
  type TwilioSimulatorOptions,
} from '../twilio-simulator.ts';

export interface SimulatorThreadData {
  readonly options: Omit<TwilioSimulatorOptions, 'now' | 'faults' | 'log' | 'resumeWhen'>;
  readonly faultPlan?: FaultPlan;
  /** Its first cell counts the answers on `calls`; the host waits on it. */
  readonly signal: Int32Array;
  readonly calls: MessagePort;
  /** The host passed a `resumeWhen`: callbacks left unfinished wait for its `resume`. */
  readonly resumeLater: boolean;
}

/** The synchronous reads the host may call, each a method of the simulator with cloneable answers. */
export type ThreadRead =
  | 'messages'
  | 'messageCount'
  | 'messagesTo'
  | 'inbound'
  | 'unsubscribe'
  | 'unsubscribedCount'
  | 'templates'
  | 'injectedFaults';

const port = parentPort;
if (!port) throw new Error('lib/local/twilio-simulator/worker.ts runs as a worker thread');
const data = workerData as SimulatorThreadData;
const log = (line: string) => port.postMessage({ kind: 'log', line });
// twilio.* rules are drawn here, in the thread that plays them; the host merges the counts.
const faults = data.faultPlan
  ? new FaultInjector(data.faultPlan, (entry) => port.postMessage({ kind: 'fault', entry }))
  : undefined;
let resume: () => void = () => {};
const resumed = new Promise<void>((resolve) => {
  resume = resolve;
});

let simulator: TwilioSimulator;
try {
  simulator = await startTwilioSimulator({
    ...data.options,
    ...(faults ? { faults } : {}),
    ...(data.resumeLater ? { resumeWhen: resumed } : {}),
    log,
  });
  port.postMessage({ kind: 'ready', url: simulator.url, port: simulator.port });
} catch (error) {
  // Said once, as a message the host turns back into its error (a PortInUseError): a throw would
  // also reach it, as a copy that is no longer one.
  port.postMessage({ kind: 'failed', error: serializeError(error) });
  process.exit(1);
}

const reads: Record<ThreadRead, (...args: never[]) => unknown> = {
  messages: () => simulator.messages(),
  messageCount: () => simulator.messageCount(),
  messagesTo: (to: string) => simulator.messagesTo(to),
  inbound: () => simulator.inbound(),
  unsubscribe: (phone: string) => simulator.unsubscribe(phone),
  unsubscribedCount: () => simulator.unsubscribedCount(),
  templates: () => simulator.templates(),
  // Only the rules played here: the host counts the others.
  injectedFaults: () =>
    Object.fromEntries(
      Object.entries(faults?.injected() ?? {}).filter(([name]) =>
        faults?.rules('twilio').some((rule) => rule.name === name),
      ),
    ),
};

data.calls.on('message', (call: { id: number; method: ThreadRead; args: never[] }) => {
  let answer: { id: number } & ({ value: unknown } | { error: { name: string; message: string } });
  try {
    const read = reads[call.method];
    if (!read) throw new Error(`the Twilio simulator's thread has no read named ${String(call.method)}`);
    answer = { id: call.id, value: read(...call.args) };
  } catch (error) {
    answer = { id: call.id, error: serializeError(error) };
  }
  data.calls.postMessage(answer);
  Atomics.add(data.signal, 0, 1);
  Atomics.notify(data.signal, 0);
});

port.on('message', (message: { kind: 'resume' | 'stop' }) => {
  if (message.kind === 'resume') resume();
  if (message.kind === 'stop')
    void simulator.stop().then(
      () => {
        port.postMessage({ kind: 'stopped' });
        data.calls.close();
        port.close();
      },
      (error: unknown) => port.postMessage({ kind: 'stopped', error: serializeError(error) }),
    );
});

function serializeError(error: unknown): { name: string; message: string; code?: string } {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const code = (error as NodeJS.ErrnoException).code;
  return { name: error.name, message: error.message, ...(code ? { code } : {}) };
}
