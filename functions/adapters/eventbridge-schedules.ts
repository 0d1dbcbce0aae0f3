import {
  ActionAfterCompletion,
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  FlexibleTimeWindowMode,
  GetScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
  ScheduleState,
  UpdateScheduleCommand,
  type UpdateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { firingsAfter, parseSchedule } from '../core/schedule-expressions.ts';
import type { ScheduleDefinition, Schedules } from '../core/schedules.ts';

/** Where the stack's schedules live and what they invoke (lib/topology.ts `scheduleGroups`). */
export interface ScheduleGroupConfig {
  readonly groupName: string;
  /** The run function's ARN: every schedule's target. */
  readonly targetArn: string;
  /** The role Scheduler assumes to invoke it (lambda:InvokeFunction on that function only). */
  readonly roleArn: string;
  /** An SQS queue for firings whose invocation kept failing. */
  readonly deadLetterArn: string;
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeSeconds: number;
}

/**
 * Schedules on EventBridge Scheduler (API reference: CreateSchedule, UpdateSchedule, DeleteSchedule,
 * GetSchedule, https://docs.aws.amazon.com/scheduler/latest/APIReference/). Every schedule of the
 * stack is in its schedule group, has no flexible window (fires at its minute), invokes the run
 * function with a JSON input, retries by the group's RetryPolicy, then lands in the DLQ. UpdateSchedule
 * replaces the whole definition, so enabling or disabling reads the schedule first and writes it back
 * with the other State (AWS's own advice for partial updates).
 */
export class EventBridgeSchedules implements Schedules {
  readonly #client: SchedulerClient;
  readonly #config: ScheduleGroupConfig;
  readonly #now: () => Date;

  constructor(client: SchedulerClient, config: ScheduleGroupConfig, now: () => Date = () => new Date()) {
    this.#client = client;
    this.#config = config;
    this.#now = now;
  }

  async put(definition: ScheduleDefinition): Promise<void> {
    const input = this.#input(definition);
    try {
      await this.#client.send(new CreateScheduleCommand(input));
    } catch (error) {
      if (!(error instanceof ConflictException)) throw error;
      await this.#client.send(new UpdateScheduleCommand(input));
    }
  }

  async delete(name: string): Promise<void> {
    try {
      await this.#client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.#config.groupName }));
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }

  async setEnabled(name: string, enabled: boolean): Promise<boolean> {
    let current: Awaited<ReturnType<typeof this.get>>;
    try {
      current = await this.get(name);
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return false;
      throw error;
    }
    const state = enabled ? ScheduleState.ENABLED : ScheduleState.DISABLED;
    if (current.State === state) return true;
    const startDate = this.#startDateFor(current);
    await this.#client.send(
      new UpdateScheduleCommand({
        Name: name,
        GroupName: this.#config.groupName,
        ScheduleExpression: current.ScheduleExpression,
        ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
        ...(startDate ? { StartDate: startDate } : {}),
        FlexibleTimeWindow: current.FlexibleTimeWindow,
        Target: current.Target,
        ActionAfterCompletion: current.ActionAfterCompletion,
        State: state,
      } as UpdateScheduleCommandInput),
    );
    return true;
  }

  /**
   * The StartDate to write back. Scheduler refuses one more than 5 minutes in the past ("The StartDate
   * you specify cannot be earlier than 5 minutes ago"), and a schedule's is usually older: a rate()
   * schedule gets its next firing on its own grid instead (so `rate(1 day)` keeps its time of day), a
   * cron() or at() one none (their times do not depend on it).
   */
  #startDateFor(current: {
    StartDate?: Date;
    ScheduleExpression?: string;
    ScheduleExpressionTimezone?: string;
  }) {
    const start = current.StartDate;
    if (!start || start.getTime() > this.#now().getTime()) return start;
    const schedule = parseSchedule({
      expression: current.ScheduleExpression ?? '',
      timeZone: current.ScheduleExpressionTimezone ?? 'UTC',
    });
    if (schedule.kind !== 'rate') return undefined;
    return firingsAfter(schedule, this.#now(), 1, { startDate: start })[0];
  }

  get(name: string) {
    return this.#client.send(new GetScheduleCommand({ Name: name, GroupName: this.#config.groupName }));
  }

  #input(definition: ScheduleDefinition): UpdateScheduleCommandInput {
    return {
      Name: definition.name,
      GroupName: this.#config.groupName,
      ScheduleExpression: definition.expression,
      ScheduleExpressionTimezone: definition.timeZone,
      ...(definition.startDate ? { StartDate: definition.startDate } : {}),
      FlexibleTimeWindow: { Mode: FlexibleTimeWindowMode.OFF },
      State: definition.enabled ? ScheduleState.ENABLED : ScheduleState.DISABLED,
      ActionAfterCompletion: definition.oneTime ? ActionAfterCompletion.DELETE : ActionAfterCompletion.NONE,
      Target: {
        Arn: this.#config.targetArn,
        RoleArn: this.#config.roleArn,
        Input: JSON.stringify(definition.input),
        DeadLetterConfig: { Arn: this.#config.deadLetterArn },
        RetryPolicy: {
          MaximumRetryAttempts: this.#config.maximumRetryAttempts,
          MaximumEventAgeInSeconds: this.#config.maximumEventAgeSeconds,
        },
      },
    };
  }
}
