/**
 * How the twin's emulators yield the CPU to its handlers. On AWS, DynamoDB runs on its own servers
 * and never takes a Lambda's vCPU; in the twin, DynamoDB Local's JVM and the one Node process that
 * runs every handler share the machine's cores, and when both want them the pacer's timers wake late
 * and send slots are lost (README "Benchmark and cost"). So the emulator can run at a lower
 * priority (DYNAMODB_LOCAL_NICE; the bench runs it at 10): it still gets every core nobody else
 * wants, but it yields to every other busy program too, not only to the handlers, so the twin's
 * default leaves it at the twin's own.
 */
import { writeFileSync } from 'node:fs';

/**
 * A shell command prefix that starts the program at `niceness` (0–19; 0: as this process), through
 * POSIX's `nice` utility so every thread the program starts inherits it.
 */
export function niceCommand(niceness: number): string {
  return niceness > 0 ? `nice -n ${niceness} ` : '';
}

/**
 * Sets the autogroup of the session `pid` leads (a child spawned `detached`, so in a session of its
 * own) to `niceness`. On Linux with autogroup scheduling, CFS shares the CPU between sessions first
 * and only then between a session's threads, and a session's weight comes from its autogroup's nice
 * value, not its threads' ("The autogroup feature", sched(7)): without this a detached JVM with a
 * dozen busy threads is weighed as one group against the twin's whole process, whatever `nice` says.
 * An unprivileged process may raise the value (lower the priority), not lower it.
 *
 * Returns nothing when it was set or there is no autogroup (another system, a kernel built without
 * it: the threads' own nice values apply there); a sentence for the log when the kernel refused.
 */
export function lowerAutogroupPriority(pid: number, niceness: number): string | undefined {
  if (niceness <= 0) return undefined;
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(niceness));
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return `could not lower the CPU priority of its session (/proc/${pid}/autogroup: ${(error as Error).message}): it competes with the handlers at their priority, and a busy machine loses more send slots`;
  }
}
