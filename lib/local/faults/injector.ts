import { createHash } from 'node:crypto';
import type { FaultPlan, FaultRule, FaultService } from './spec.ts';

/** One structured log entry per injected fault (the twin prints them at DEBUG). */
export type FaultLog = (entry: Record<string, unknown>) => void;

/**
 * Decides, rule by rule, whether a call gets its fault, and counts what was injected.
 *
 * Each rule draws from its own seeded stream (mulberry32, seeded from TWIN_FAULTS_SEED and the rule's
 * name), so one rule's decisions do not shift when another rule is added, and the same seed gives the
 * same sequence of decisions for the same sequence of calls. Calls made concurrently can reach a rule
 * in another order from run to run, so a replay is exact only where the calls are sequential.
 */
export class FaultInjector {
  readonly plan: FaultPlan;
  readonly #streams = new Map<string, () => number>();
  readonly #counts = new Map<string, number>();
  readonly #log: FaultLog;

  constructor(plan: FaultPlan, log: FaultLog = () => {}) {
    this.plan = plan;
    this.#log = log;
    for (const rule of plan.rules) this.#counts.set(rule.name, 0);
  }

  rules(service: FaultService): FaultRule[] {
    return this.plan.rules.filter((r) => r.service === service);
  }

  /** A draw for one rule: true with probability `rule.rate`. */
  hit(rule: FaultRule): boolean {
    if (rule.rate <= 0) return false;
    return this.#stream(rule)() < rule.rate;
  }

  /** The first of `rules`, in TWIN_FAULTS order, whose draw hits. */
  firstHit(rules: readonly FaultRule[]): FaultRule | undefined {
    return rules.find((rule) => this.hit(rule));
  }

  /** A whole number in 0..n-1 from the rule's stream (which item of a transaction conflicts, …). */
  pick(rule: FaultRule, n: number): number {
    return Math.min(n - 1, Math.floor(this.#stream(rule)() * n));
  }

  /** Counts one injected fault and logs it (never with message bodies or phone numbers). */
  record(rule: FaultRule, fields: Record<string, unknown> = {}): void {
    this.#counts.set(rule.name, (this.#counts.get(rule.name) ?? 0) + 1);
    this.#log({ message: 'fault injected', fault: rule.name, ...fields });
  }

  /** Faults injected so far, by rule name as written in TWIN_FAULTS (every rule listed, 0 included). */
  injected(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  #stream(rule: FaultRule): () => number {
    let stream = this.#streams.get(rule.name);
    if (!stream) {
      const digest = createHash('sha256').update(`${this.plan.seed}:${rule.name}`).digest();
      stream = mulberry32(digest.readUInt32LE(0));
      this.#streams.set(rule.name, stream);
    }
    return stream;
  }
}

/** A small, fast, seedable PRNG with a full 2^32 period (Tommy Ettinger's mulberry32); uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
