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

  constructor(client: SchedulerClient, config: ScheduleGroupConfig) {
    this.#client = client;
    this.#config = config;
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
    await this.#client.send(
      new UpdateScheduleCommand({
        Name: name,
        GroupName: this.#config.groupName,
        ScheduleExpression: current.ScheduleExpression,
        ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
        StartDate: current.StartDate,
        FlexibleTimeWindow: current.FlexibleTimeWindow,
        Target: current.Target,
        ActionAfterCompletion: current.ActionAfterCompletion,
        State: state,
      } as UpdateScheduleCommandInput),
    );
    return true;
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
