/**
 * The recovery bound (issue: "after a crash every recipient reaches an outcome within that bound").
 *
 * A send claim is a lease: it holds until `claimLeaseUntil` of the invocation that made it, which is
 * that invocation's own deadline (Lambda stops it at its timeout) plus a margin for clock skew
 * between hosts. After that, whoever finds the claim knows its owner is gone. The send queue's
 * visibility timeout is longer than the function's timeout plus that margin (lib/topology.ts), so a
 * task whose invocation died comes back only after its claim's lease ran out, and its next delivery
 * reconciles it with the provider (use-cases/reconcile-send.ts). So after a crash at any point:
 *
 *   back on the path within the send queue's visibility timeout (2 × the send timeout = 60 s),
 *   sent or adopted within that plus one send (and its pacing wait), exactly once.
 *
 * The fan-out is bound the same way by its own queue's visibility timeout; the sweeper covers the
 * rest (a message lost for good, callbacks that never come) on its slower, stall-based path.
 */
export const LEASE_MARGIN_MS = 10_000;

/** When a claim made by an invocation that must end by `invocationDeadline` stops holding. */
export function claimLeaseUntil(invocationDeadline: Date): Date {
  return new Date(invocationDeadline.getTime() + LEASE_MARGIN_MS);
}

/**
 * The visibility timeout of a queue whose consumer times out after `timeoutSeconds`: a delivery comes
 * back only once any lease the dead consumer made has run out. Twice the timeout, not the six times
 * Lambda's guide suggests for throttled batches: a batch redelivered while it is still being worked
 * on claims nothing twice (the ledger admits one claim per attempt), and a short timeout is the
 * recovery bound.
 */
export function visibilityTimeoutFor(timeoutSeconds: number): number {
  return Math.max(timeoutSeconds * 2, Math.ceil(timeoutSeconds + LEASE_MARGIN_MS / 1000 + 5));
}
