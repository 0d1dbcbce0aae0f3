import type { ScheduleDefinition } from './schedules.ts';

/**
 * A broadcast with `scheduledAt` (API.md: it waits in `scheduled`) is started by a one-time
 * EventBridge Scheduler schedule named after it: `at(yyyy-mm-ddThh:mm:ss)` in UTC, whose firing
 * (functions/run-schedules.ts) moves it to `accepted` and hands its chunks to the fan-out. Scheduler
 * fires within the minute of that time (its precision is 60 s: "Schedule types on EventBridge
 * Scheduler") and deletes the schedule after (ActionAfterCompletion DELETE). Cancelling the broadcast
 * deletes it. If the schedule is lost anyway, the sweeper starts a due broadcast whose chunks were not
 * handed on (use-cases/sweep.ts).
 */
export function startScheduleOf(
  tenantId: string,
  broadcastId: string,
  scheduledAt: string,
): ScheduleDefinition {
  // at() takes whole seconds, no zone suffix: the time is read in ScheduleExpressionTimezone (UTC).
  const at = new Date(scheduledAt).toISOString().slice(0, 19);
  return {
    name: broadcastId,
    expression: `at(${at})`,
    timeZone: 'UTC',
    input: { kind: 'broadcast.start', tenantId, broadcastId },
    enabled: true,
    oneTime: true,
  };
}
