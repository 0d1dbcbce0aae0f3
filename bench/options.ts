/**
 * Settings the bench's entry passes to its scenario processes through their environment.
 */

/**
 * The send-rate scenario's SENDER_MPS and SIM_MPS (`npm run bench -- --send-rate-mps=20`); default 80,
 * the product's default sender limit (functions/core/pacing.ts DEFAULT_SENDER_MPS).
 */
export const SEND_RATE_MPS_VARIABLE = 'BENCH_SEND_RATE_MPS';
export const DEFAULT_SEND_RATE_MPS = 80;
