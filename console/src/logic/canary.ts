/**
 * The canary option as the New broadcast form holds it → the API's field (functions/core/canary.ts
 * CanaryRequest: `canary: { recipients | percent, maxFailureRate }`), or what to fix first.
 */
export interface CanaryFields {
  /** '' for no canary. */
  mode: '' | 'recipients' | 'percent';
  /** How many recipients (whole, ≥ 1) or what percent (over 0, at most 100) go first. */
  size: string;
  /** The most failures allowed among the canary's outcomes, in percent (0–100). */
  maxFailurePct: string;
}

export const NO_CANARY: CanaryFields = { mode: '', size: '', maxFailurePct: '10' };

export type CanaryProblem = 'canary_size' | 'canary_rate';

export interface CanaryOption {
  canary?: { recipients?: number; percent?: number; maxFailureRate: number };
}

/** The fields → `{ canary }` (nothing without a mode), or the problems (messages.ts words them). */
export function canaryOption(fields: CanaryFields): { option: CanaryOption; problems: CanaryProblem[] } {
  if (!fields.mode) return { option: {}, problems: [] };
  const problems: CanaryProblem[] = [];
  const size = Number(fields.size.trim());
  const validSize =
    fields.size.trim() !== '' &&
    (fields.mode === 'recipients' ? Number.isInteger(size) && size >= 1 : size > 0 && size <= 100);
  if (!validSize) problems.push('canary_size');
  const pct = Number(fields.maxFailurePct.trim());
  if (fields.maxFailurePct.trim() === '' || !(pct >= 0 && pct <= 100)) problems.push('canary_rate');
  if (problems.length) return { option: {}, problems };
  // Percent → a rate, rounded to 4 decimals so 7% is 0.07, not 0.07000000000000001.
  const maxFailureRate = Math.round(pct * 100) / 10_000;
  return {
    option: {
      canary:
        fields.mode === 'recipients'
          ? { recipients: size, maxFailureRate }
          : { percent: size, maxFailureRate },
    },
    problems,
  };
}
