import type { Broadcast, SendLedger, SendTask } from '../core/ports.ts';
import { quietUntil } from '../core/quiet-hours.ts';
import { defaultTimeZone } from '../core/time-zones.ts';

/**
 * The send path's check of a broadcast's quiet hours, at send time: a big broadcast (or a retry)
 * reaches someone later than it was timed at create, perhaps inside their quiet hours by then. Such a
 * template send is not made: the recipient waits on the due index until the hours end (ledger.wait),
 * and the retry job releases it (use-cases/retry-due.ts). True when the task must not be sent now.
 */
export async function heldForQuietHours(
  task: SendTask,
  broadcast: Pick<Broadcast, 'quietHours'>,
  ledger: Pick<SendLedger, 'wait'>,
  at: Date,
): Promise<{ held: false } | { held: true; until: Date }> {
  if (!broadcast.quietHours || (task.kind ?? 'template') !== 'template') return { held: false };
  const until = quietUntil(at, task.timeZone ?? defaultTimeZone(task.phone), broadcast.quietHours);
  if (!until) return { held: false };
  // Only a recipient not claimed yet is held. One that moved on (claimed by a live send, sent, or an
  // abandoned claim) goes the usual way: the claim refuses it, or recovery asks Twilio first.
  return (await ledger.wait(task, until, 'quiet_hours', at)) ? { held: true, until } : { held: false };
}
