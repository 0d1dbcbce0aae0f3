// Walks accepted messages through their planned statuses, one step at a time and in order, and posts a
// signed status callback for each step, as Twilio does (form-encoded, X-Twilio-Signature over the exact URL).
import { API_VERSION, type SimulatedMessage } from './resources.ts';
import { maskPhone, type PlannedStep } from './scenario.ts';
import { postSigned, problemText } from './webhook.ts';

export interface LifecycleOptions {
  /** The token that signs a message's callbacks: its account's. */
  authToken: string | ((accountSid: string) => string);
  /** Base delay between two status steps; each delay gets ±20 % jitter. */
  stepDelayMs: number;
  /** Delays before the retries of a failed callback POST (its length is the number of retries). */
  retryDelaysMs?: number[];
  /** Per-attempt timeout of a callback POST. */
  callbackTimeoutMs?: number;
  /** The simulator's clock; default the real one. */
  now?: () => Date;
  /** Called after each status change (to persist it). */
  onChange: (m: SimulatedMessage) => void;
  /** Whether a status callback is posted, dropped or posted twice (TWIN_FAULTS); default posted. */
  callbackFate?: (m: SimulatedMessage) => CallbackFate;
  log: (line: string) => void;
}

/** The form parameters Twilio posts to a StatusCallback for this message in its current status. */
export function callbackParams(m: SimulatedMessage): Record<string, string> {
  const params: Record<string, string> = {
    AccountSid: m.accountSid,
    ApiVersion: API_VERSION,
    From: m.from,
    MessageSid: m.sid,
    MessageStatus: m.status,
    SmsSid: m.sid,
    SmsStatus: m.status,
    To: m.to,
  };
  const channel = /^([a-z]+):(.*)$/.exec(m.to);
  if (channel?.[1] && channel[2]) {
    params.ChannelPrefix = channel[1];
    params.ChannelToAddress = channel[2];
  }
  if (m.messagingServiceSid) params.MessagingServiceSid = m.messagingServiceSid;
  if (m.status === 'delivered' || m.status === 'read') params.EventType = m.status.toUpperCase();
  if (m.errorCode !== null) {
    params.ErrorCode = String(m.errorCode);
    if (m.errorMessage) params.ErrorMessage = m.errorMessage;
  }
  return params;
}

export type CallbackFate = 'send' | 'drop' | 'duplicate';

export class Lifecycle {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stopping = new AbortController();
  readonly #options: Required<LifecycleOptions>;

  constructor(options: LifecycleOptions) {
    this.#options = {
      retryDelaysMs: [250, 1000],
      callbackTimeoutMs: 5000,
      now: () => new Date(),
      callbackFate: () => 'send',
      ...options,
    };
  }

  /** Timers waiting plus callbacks being posted. */
  get pending(): number {
    return this.#timers.size + this.#inFlight.size;
  }

  /** Schedules the message's next pending step (if any). */
  resume(m: SimulatedMessage): void {
    if (this.#stopping.signal.aborted || m.pendingSteps.length === 0) return;
    const base = this.#options.stepDelayMs;
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        this.#track(this.#step(m));
      },
      Math.max(0, Math.round(base * (0.8 + Math.random() * 0.4))),
    );
    this.#timers.add(timer);
  }

  /**
   * Cancels the steps not yet due (they stay pending in the message, so a restart resumes them) and
   * waits for callbacks already being posted; their retries are given up.
   */
  async stop(): Promise<void> {
    this.#stopping.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    while (this.#inFlight.size) await Promise.allSettled([...this.#inFlight]);
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.#options.log(`lifecycle error: ${String(error)}`));
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
  }

  async #step(m: SimulatedMessage): Promise<void> {
    const step = m.pendingSteps[0];
    if (!step) return;
    this.#apply(m, step);
    const fate = m.statusCallback ? this.#options.callbackFate(m) : 'drop';
    if (m.statusCallback && fate !== 'drop') {
      await this.#post(m.statusCallback, m);
      if (fate === 'duplicate') await this.#post(m.statusCallback, m);
    }
    this.resume(m);
  }

  #apply(m: SimulatedMessage, step: PlannedStep): void {
    const now = this.#options.now().toISOString();
    m.status = step.status;
    m.errorCode = step.errorCode ?? null;
    m.errorMessage = step.errorMessage ?? null;
    m.dateUpdated = now;
    m.pendingSteps = m.pendingSteps.slice(1);
    m.history.push({
      status: step.status,
      at: now,
      ...(step.errorCode ? { errorCode: step.errorCode } : {}),
    });
    this.#options.onChange(m);
  }

  async #post(url: string, m: SimulatedMessage): Promise<void> {
    const params = callbackParams(m);
    const what = `${m.status} callback for ${m.sid} (to ${maskPhone(m.to)})`;
    const delays = this.#options.retryDelaysMs;
    for (let attempt = 0; ; attempt++) {
      let problem: string;
      try {
        const answer = await postSigned(url, params, {
          authToken:
            typeof this.#options.authToken === 'function'
              ? this.#options.authToken(m.accountSid)
              : this.#options.authToken,
          timeoutMs: this.#options.callbackTimeoutMs,
          idempotencyToken: `${m.sid}-${m.status}`,
        });
        if (answer.ok) return;
        problem = `HTTP ${answer.status}`;
      } catch (error) {
        problem = problemText(error);
      }
      const delay = delays[attempt];
      if (delay === undefined || this.#stopping.signal.aborted) {
        this.#options.log(`gave up on ${what} after ${attempt + 1} attempt(s): ${problem}`);
        return;
      }
      await this.#sleep(delay);
    }
  }

  /** A delay that ends early when the simulator stops. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#stopping.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
