import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { EVENT_SOURCE } from '../functions/core/lifecycle-events.ts';
import type { EventBusSpec } from './topology.ts';

/**
 * The stack's event bus for the user's own integrations (lib/topology.ts `eventBuses`): a custom
 * EventBridge bus the publisher function puts the lifecycle events on (events:PutEvents granted to
 * the functions that `uses.eventBuses` it, on this bus only), and an archive of every event from
 * EVENT_SOURCE, kept `archiveRetentionDays`, so a window a user's target missed can be replayed
 * (`aws events start-replay`). The user adds their own rules to it; the stack adds none.
 * Outputs: EventBusName and EventBusArn (one bus: the stack declares one).
 */
export function createEventBuses(
  scope: Construct,
  specs: Readonly<Record<string, EventBusSpec>>,
): Record<string, events.EventBus> {
  const ids = Object.keys(specs);
  if (ids.length > 1) throw new Error(`One event bus is supported; the topology declares ${ids.join(', ')}`);
  const buses: Record<string, events.EventBus> = {};
  for (const [busId, spec] of Object.entries(specs)) {
    const bus = new events.EventBus(scope, 'EventBus', {
      eventBusName: `${Stack.of(scope).stackName}-${busId}`,
      description: spec.description,
    });
    bus.archive('EventArchive', {
      archiveName: `${Stack.of(scope).stackName}-${busId}`,
      description: `Every ${EVENT_SOURCE} event for ${spec.archiveRetentionDays} days, to replay a window a target missed`,
      eventPattern: { source: [EVENT_SOURCE] },
      retention: Duration.days(spec.archiveRetentionDays),
    });
    new CfnOutput(scope, 'EventBusName', {
      value: bus.eventBusName,
      description: `Lifecycle events (source ${EVENT_SOURCE}): add your rules to this bus`,
    });
    new CfnOutput(scope, 'EventBusArn', { value: bus.eventBusArn, description: 'The lifecycle events bus' });
    buses[busId] = bus;
  }
  return buses;
}
