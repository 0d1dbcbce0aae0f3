// The simulator's memory: messages by SID, newest-first iteration, the `0005` first-try set, the inbound
// messages (and so each contact's 24-hour window), and an optional append-only JSONL log under dataDir
// (compacted on every start) so all of it survives a restart. Logs written before inbound messages existed
// load as they are (they just have no `i` lines).
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { whatsAppIdentity } from '../../../functions/core/phones.ts';
import type { SimulatedInbound, SimulatedMessage } from './resources.ts';

export const LOG_FILE = 'twilio-simulator.jsonl';

type Line =
  | ({ t: 'm' } & SimulatedMessage)
  | ({ t: 'u'; sid: string } & Pick<
      SimulatedMessage,
      'status' | 'errorCode' | 'errorMessage' | 'dateUpdated' | 'dateSent' | 'pendingSteps'
    > & { h: SimulatedMessage['history'][number] | null })
  | { t: 'f'; to: string }
  /** A number that unsubscribed from the senders (POST /_simulator/unsubscribe). */
  | { t: 'x'; to: string }
  /** That number subscribed again (it wrote START, YES or UNSTOP). */
  | { t: 's'; to: string }
  | ({ t: 'i' } & SimulatedInbound);

/**
 * The 24-hour window is per (contact, sender), as WhatsApp keeps it per account: numbers compared by
 * digits whatever their prefix, and a contact by their WhatsApp identity (a reply from `+521…` opens
 * the window for messages to `+52…`).
 */
/** A number's WhatsApp identity (`+52 1 55…` and `+52 55…` alike), from any form of it. */
function identityOf(address: string): string {
  return whatsAppIdentity(`+${address.replace(/\D/g, '')}`);
}

function windowKey(contact: string, sender: string): string {
  return `${whatsAppIdentity(`+${contact.replace(/\D/g, '')}`)}>${sender.replace(/\D/g, '')}`;
}

export class MessageStore {
  readonly #bySid = new Map<string, SimulatedMessage>();
  /** Creation order, oldest first. */
  readonly #ordered: SimulatedMessage[] = [];
  readonly #byTo = new Map<string, SimulatedMessage[]>();
  readonly #firstTries = new Set<string>();
  readonly #unsubscribed = new Set<string>();
  readonly #inbound: SimulatedInbound[] = [];
  readonly #inboundBySid = new Map<string, SimulatedInbound>();
  /** windowKey → epoch ms of the contact's latest message to that sender. */
  readonly #lastInbound = new Map<string, number>();
  /** The log's file descriptor (append mode); undefined without a dataDir, or after a write failed. */
  #fd: number | undefined;
  #file: string | undefined;
  #log: (line: string) => void = () => {};

  /** Loads `dataDir/twilio-simulator.jsonl` if there is one, compacts it, and keeps appending to it. */
  static async open(dataDir: string | undefined, log: (line: string) => void): Promise<MessageStore> {
    const store = new MessageStore();
    if (!dataDir) return store;
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const file = join(dataDir, LOG_FILE);
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    let skipped = 0;
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      try {
        store.#replay(JSON.parse(raw) as Line);
      } catch {
        skipped++; // a torn last line after a crash
      }
    }
    if (skipped) log(`ignored ${skipped} unreadable line(s) in ${file}`);
    const tmp = `${file}.${process.pid}.tmp`;
    // Every phone number the simulator saw: the user's only (0600).
    await writeFile(tmp, store.#snapshot(), { mode: 0o600 });
    await rename(tmp, file);
    store.#file = file;
    store.#fd = openSync(file, 'a', 0o600);
    store.#log = (line) => log(line.replace('%FILE%', file));
    return store;
  }

  /** The log as the state now is, one line per message, first try and inbound message. */
  #snapshot(): string {
    const lines = [
      ...this.#ordered.map((m) => JSON.stringify({ t: 'm', ...m })),
      ...[...this.#firstTries].map((to) => JSON.stringify({ t: 'f', to })),
      ...[...this.#unsubscribed].map((to) => JSON.stringify({ t: 'x', to })),
      ...this.#inbound.map((i) => JSON.stringify({ t: 'i', ...i })),
    ];
    return lines.length ? `${lines.join('\n')}\n` : '';
  }

  get size(): number {
    return this.#ordered.length;
  }

  get(sid: string): SimulatedMessage | undefined {
    return this.#bySid.get(sid);
  }

  all(): readonly SimulatedMessage[] {
    return this.#ordered;
  }

  /** Newest first, as Twilio lists; narrowed to one destination when `to` is given. */
  *newestFirst(to?: string): Generator<SimulatedMessage> {
    const list = to === undefined ? this.#ordered : (this.#byTo.get(to) ?? []);
    for (let i = list.length - 1; i >= 0; i--) yield list[i] as SimulatedMessage;
  }

  add(m: SimulatedMessage): void {
    this.#index(m);
    this.#append({ t: 'm', ...m });
  }

  /** Records the message's current state after a status change. */
  updated(m: SimulatedMessage): void {
    const { sid, status, errorCode, errorMessage, dateUpdated, dateSent, pendingSteps } = m;
    const h = m.history.at(-1) ?? null;
    this.#append({ t: 'u', sid, status, errorCode, errorMessage, dateUpdated, dateSent, pendingSteps, h });
  }

  hadFirstTry(to: string): boolean {
    return this.#firstTries.has(to);
  }

  rememberFirstTry(to: string): void {
    this.#firstTries.add(to);
    this.#append({ t: 'f', to });
  }

  /**
   * Whether the person at this number (`whatsapp:+…`, in any form of their WhatsApp identity, as
   * the 24-hour window is kept) unsubscribed: Twilio then refuses every create to it (21610).
   */
  isUnsubscribed(to: string): boolean {
    return this.#unsubscribed.has(identityOf(to));
  }

  /** How many people unsubscribed (POST /_simulator/unsubscribe), this run's and those kept from earlier ones. */
  get unsubscribedCount(): number {
    return this.#unsubscribed.size;
  }

  unsubscribe(to: string): void {
    const identity = identityOf(to);
    if (this.#unsubscribed.has(identity)) return;
    this.#unsubscribed.add(identity);
    this.#append({ t: 'x', to: identity });
  }

  /** The person subscribed again (Twilio's opt-in keywords): creates to them are accepted again. False when they had not unsubscribed. */
  resubscribe(to: string): boolean {
    const identity = identityOf(to);
    if (!this.#unsubscribed.delete(identity)) return false;
    this.#append({ t: 's', to: identity });
    return true;
  }

  /** Inbound messages, oldest first. */
  inbound(): readonly SimulatedInbound[] {
    return this.#inbound;
  }

  getInbound(messageSid: string): SimulatedInbound | undefined {
    return this.#inboundBySid.get(messageSid);
  }

  addInbound(i: SimulatedInbound): void {
    this.#indexInbound(i);
    this.#append({ t: 'i', ...i });
  }

  /**
   * Deletes a message, outbound or inbound (Twilio's DELETE of a Message resource); false when none.
   * The log is rewritten without it at once: a deleted message's number and text leave the disk too
   * (an erasure tried on the twin leaves no copy behind). Deletions are rare; the rewrite is O(log).
   */
  remove(sid: string): boolean {
    if (!this.#unindex(sid)) return false;
    const file = this.#file;
    if (file === undefined || this.#fd === undefined) return true;
    try {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, this.#snapshot(), { mode: 0o600 });
      closeSync(this.#fd);
      renameSync(tmp, file);
      this.#fd = openSync(file, 'a', 0o600);
    } catch (error) {
      this.#fd = undefined;
      this.#log(`cannot rewrite %FILE%: ${(error as Error).message}`);
    }
    return true;
  }

  /** When `contact` last wrote to `sender` (epoch ms), if ever. */
  lastInboundAt(contact: string, sender: string): number | undefined {
    return this.#lastInbound.get(windowKey(contact, sender));
  }

  async close(): Promise<void> {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  #index(m: SimulatedMessage): void {
    this.#bySid.set(m.sid, m);
    this.#ordered.push(m);
    const forTo = this.#byTo.get(m.to);
    if (forTo) forTo.push(m);
    else this.#byTo.set(m.to, [m]);
  }

  #unindex(sid: string): boolean {
    const m = this.#bySid.get(sid);
    if (m) {
      this.#bySid.delete(sid);
      this.#ordered.splice(this.#ordered.indexOf(m), 1);
      const forTo = this.#byTo.get(m.to) ?? [];
      forTo.splice(forTo.indexOf(m), 1);
      return true;
    }
    const i = this.#inboundBySid.get(sid);
    if (!i) return false;
    this.#inboundBySid.delete(sid);
    this.#inbound.splice(this.#inbound.indexOf(i), 1);
    return true;
  }

  #indexInbound(i: SimulatedInbound): void {
    if (this.#inboundBySid.has(i.messageSid)) return;
    this.#inboundBySid.set(i.messageSid, i);
    this.#inbound.push(i);
    const key = windowKey(i.from, i.to);
    const at = Date.parse(i.receivedAt);
    if (Number.isFinite(at) && at > (this.#lastInbound.get(key) ?? -Infinity)) this.#lastInbound.set(key, at);
  }

  #replay(line: Line): void {
    if (line.t === 'm') {
      const { t: _t, ...m } = line;
      if (!this.#bySid.has(m.sid)) this.#index(m);
    } else if (line.t === 'u') {
      const m = this.#bySid.get(line.sid);
      if (!m) return;
      Object.assign(m, {
        status: line.status,
        errorCode: line.errorCode,
        errorMessage: line.errorMessage,
        dateUpdated: line.dateUpdated,
        dateSent: line.dateSent,
        pendingSteps: line.pendingSteps,
      });
      if (line.h) m.history.push(line.h);
    } else if (line.t === 'f') {
      this.#firstTries.add(line.to);
    } else if (line.t === 'x') {
      this.#unsubscribed.add(line.to);
    } else if (line.t === 's') {
      this.#unsubscribed.delete(line.to);
    } else if (line.t === 'i') {
      const { t: _t, ...i } = line;
      this.#indexInbound(i);
    }
  }

  #append(line: Line): void {
    // Written through at once, before the answer that reports it leaves (as Twilio's own store is
    // durable): a kill -9 of npm start loses no message the simulator accepted.
    if (this.#fd === undefined) return;
    try {
      writeSync(this.#fd, `${JSON.stringify(line)}\n`);
    } catch (error) {
      this.#fd = undefined;
      this.#log(`cannot write %FILE%: ${(error as Error).message}`);
    }
  }
}
