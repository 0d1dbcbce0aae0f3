/**
 * The Schedules port: named schedules that invoke the run function (functions/run-schedules.ts) with
 * an input, at the times of an EventBridge Scheduler expression (core/schedule-expressions.ts).
 * On AWS, EventBridge Scheduler (adapters/eventbridge-schedules.ts); on the twin, its emulator
 * (lib/local/scheduler-local.ts), reached by the same adapter.
 */

/**
 * Scheduler's context attribute for the time a firing was scheduled for (`2022-03-22T18:59:43Z`),
 * replaced in the target input at each invocation. Source: AWS, "Adding context attributes in
 * EventBridge Scheduler" (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html).
 */
export const SCHEDULED_TIME = '<aws.scheduler.scheduled-time>';

/**
 * A firing time written as Scheduler writes SCHEDULED_TIME: ISO-8601 UTC to the second, no
 * milliseconds (`2022-03-22T18:59:43Z`). Firings fall on whole seconds, so nothing is lost; the API's
 * `nextRuns` use it too, so a run's `scheduledFor` is the same text as the `nextRuns` entry it was.
 */
export function schedulerTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What the run function receives from a schedule (its target input, the time filled in). */
export type ScheduleInvocation =
  | {
      readonly kind: 'campaign.run';
      readonly tenantId: string;
      readonly campaignId: string;
      /** ISO-8601 UTC: the firing's scheduled time (SCHEDULED_TIME, filled in by Scheduler). */
      readonly scheduledFor: string;
    }
  | { readonly kind: 'broadcast.start'; readonly tenantId: string; readonly broadcastId: string };

export interface ScheduleDefinition {
  /** Unique in the stack's schedule group: Scheduler takes 1-64 of `[0-9a-zA-Z-_.]`; ids (`cmp_…`) fit. */
  readonly name: string;
  /** An EventBridge Scheduler expression, already checked (parseSchedule). */
  readonly expression: string;
  /** IANA zone the expression is read in. */
  readonly timeZone: string;
  /** The target input; a campaign's `scheduledFor` is SCHEDULED_TIME, filled in at each firing. */
  readonly input: ScheduleInvocation;
  readonly enabled: boolean;
  /** `rate()` counts from here (Scheduler's StartDate); without one it fires at once, then every interval. */
  readonly startDate?: Date;
  /** A one-time (`at()`) schedule: Scheduler deletes it after its firing (ActionAfterCompletion DELETE). */
  readonly oneTime: boolean;
}

export interface Schedules {
  /** Creates the schedule, or replaces its whole definition when it exists. */
  put(definition: ScheduleDefinition): Promise<void>;
  /** Deletes it; a schedule that is not there (already fired and deleted, say) is fine. */
  delete(name: string): Promise<void>;
  /** Turns it on or off; false when there is no such schedule. Firings missed while off never come. */
  setEnabled(name: string, enabled: boolean): Promise<boolean>;
}

/**
 * Each schedule's Target.RetryPolicy. Scheduler retries a failed invocation (the run function threw:
 * DynamoDB unavailable, a timeout) with backoff; a run is worth delivering late within these 6 hours
 * (Scheduler's default is 24 h: a weekly 09:00 campaign starting at 03:00 the next night is worse than
 * a run in the DLQ, which the dead-letter alarm reports). Attempts: Scheduler's default, 185.
 */
export const SCHEDULE_RETRY_ATTEMPTS = 185;
export const SCHEDULE_MAX_EVENT_AGE_SECONDS = 6 * 3600;
