// TWIN_FAULTS' twilio.* faults, as the simulator plays them (docs: README, "Chaos drills"):
//   twilio.429      create refused, nothing created: 429, code 20429 (always safe to retry, TWILIO.md)
//   twilio.503      create refused, nothing created: 503, code 20503 "Service unavailable"
//                   (https://www.twilio.com/docs/api/errors/20503)
//   twilio.500      the message IS created (and walks its lifecycle), the answer is 500, code 20500
//   twilio.timeout  the message IS created and its callbacks start, but the answer is held past the
//                   client's timeout (the product's messenger gives up after 10 s)
//   twilio.callbackDrop       a status callback is never posted (the status still changes)
//   twilio.callbackDuplicate  a status callback is posted twice
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultInjector } from '../faults/injector.ts';
import type { FaultRule } from '../faults/spec.ts';
import type { CallbackFate } from './lifecycle.ts';
import { errorBody, type SimulatedMessage } from './resources.ts';
import { ERRORS, type RestError } from './scenario.ts';

/** Longer than the product's 10 s Twilio timeout (functions/commons/wiring.ts), so the client gives up first. */
export const DEFAULT_TIMEOUT_HOLD_MS = 12_000;

export interface CreateAnswer {
  status: number;
  body: unknown;
  after?: () => void;
}

const SERVICE_UNAVAILABLE: RestError = { httpStatus: 503, code: 20503, message: 'Service unavailable' };

export class SimulatorFaults {
  readonly #injector: FaultInjector;
  readonly #holdMs: number;
  readonly #released = new AbortController();

  constructor(injector: FaultInjector, options: { timeoutHoldMs?: number } = {}) {
    this.#injector = injector;
    this.#holdMs = options.timeoutHoldMs ?? DEFAULT_TIMEOUT_HOLD_MS;
  }

  /** Before anything is created: a 429 or 503 refusal, or nothing. */
  refuseCreate(): RestError | undefined {
    const rule = this.#injector.firstHit(this.#rules('429', '503'));
    if (!rule) return undefined;
    const error = rule.fault === '429' ? ERRORS.tooManyRequests() : SERVICE_UNAVAILABLE;
    this.#record(rule, { call: 'create', status: error.httpStatus });
    return error;
  }

  /**
   * After a message was created and would be answered 201: the same answer, a 500 (created all the
   * same), or the 201 held for the timeout hold, its lifecycle started at once as Twilio's would.
   */
  async answerCreated(answer: CreateAnswer): Promise<CreateAnswer> {
    if (answer.status !== 201) return answer;
    const rule = this.#injector.firstHit(this.#rules('500', 'timeout'));
    if (!rule) return answer;
    if (rule.fault === '500') {
      this.#record(rule, { call: 'create', status: 500 });
      return { ...answer, status: 500, body: errorBody(ERRORS.internal()) };
    }
    this.#record(rule, { call: 'create', heldMs: this.#holdMs });
    answer.after?.();
    await sleep(this.#holdMs, undefined, { signal: this.#released.signal }).catch(() => {});
    return { status: answer.status, body: answer.body };
  }

  /** What happens to one status callback of `m` (its status already changed). */
  callbackFate(m: SimulatedMessage): CallbackFate {
    const rule = this.#injector.firstHit(this.#rules('callbackDrop', 'callbackDuplicate'));
    if (!rule) return 'send';
    this.#record(rule, { call: 'statusCallback', messageSid: m.sid, messageStatus: m.status });
    return rule.fault === 'callbackDrop' ? 'drop' : 'duplicate';
  }

  /** Answers every held create now (the simulator is stopping). */
  release(): void {
    this.#released.abort();
  }

  #rules(...faults: string[]): FaultRule[] {
    return this.#injector.rules('twilio').filter((r) => faults.includes(r.fault));
  }

  #record(rule: FaultRule, fields: Record<string, unknown>): void {
    this.#injector.record(rule, { service: 'twilio', ...fields });
  }
}
