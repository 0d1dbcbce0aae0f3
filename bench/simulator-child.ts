/**
 * The Twilio simulator in a process of its own, for the bench (bench/remote-simulator.ts forks it).
 * Twilio is not on our machine on AWS: its work (answering creates, posting signed status
 * callbacks) must not share the twin's event loop with the handlers a rate figure measures.
 *
 * argv[2]: the settings as JSON ({ accountSid, authToken, mps, latencyMs, callbackDelayMs }).
 * IPC out: `{ kind: 'ready', url }` once listening; `{ kind: 'overLimit', at }` per 429 the limiter
 * answers; `{ kind: 'reply', id, value }` per request. IPC in: `{ kind: 'count' | 'messages', id }`.
 * Stops (and exits) when the parent disconnects.
 */
import { startTwilioSimulator } from '../lib/local/twilio-simulator.ts';

export interface SimulatorChildSettings {
  readonly accountSid: string;
  readonly authToken: string;
  readonly mps: number;
  readonly latencyMs: number;
  readonly callbackDelayMs: number;
}

export type ChildRequest = { kind: 'count' | 'messages'; id: number };
export type ChildMessage =
  | { kind: 'ready'; url: string }
  | { kind: 'overLimit'; at: number }
  | { kind: 'reply'; id: number; value: unknown };

const send = (message: ChildMessage) => process.send?.(message);

const settings = JSON.parse(process.argv[2] ?? '{}') as SimulatorChildSettings;
const simulator = await startTwilioSimulator({
  port: 0,
  ...settings,
  log: (line) => {
    // "429 for sender whatsapp:+*******8886: over 80 messages per second" (lib/local/twilio-simulator.ts).
    if (line.startsWith('429 for sender')) send({ kind: 'overLimit', at: Date.now() });
  },
});
process.on('message', (request: ChildRequest) => {
  const value = request.kind === 'count' ? simulator.messageCount() : simulator.messages();
  send({ kind: 'reply', id: request.id, value });
});
process.on('disconnect', () => {
  void simulator.stop().finally(() => process.exit(0));
});
send({ kind: 'ready', url: simulator.url });
