import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import pLimit from 'p-limit';
import { EVENT_SOURCE, type LifecycleEvent } from '../core/lifecycle-events.ts';
import type { EventPublisher } from '../core/ports.ts';

/**
 * Lifecycle events on an EventBridge bus with PutEvents (EventBridge API reference, PutEvents;
 * user guide "Sending events with PutEvents"):
 * - at most 10 entries per call (the API's limit; each entry here is ~1 KB, far under the 256 KB
 *   request limit);
 * - a call can succeed with some entries refused: `FailedEntryCount` > 0 and those entries carry
 *   `ErrorCode` (`InternalFailure`, `ThrottlingException`, …) in the same position as the request's.
 *   AWS's advice is to put exactly those again, which this does up to `attempts` times with a growing
 *   pause; a whole call that throws (ServiceUnavailable, throttling: already retried by the SDK's own
 *   retry strategy) counts as every entry of it refused;
 * - what is still refused is answered by eventId, for the caller to retry later (the stream).
 * Each entry: Source EVENT_SOURCE, DetailType the event type, Detail its JSON, Time its occurredAt.
 */
export interface EventBridgePublisherOptions {
  readonly busName: string;
  /** Calls of one publish, each with up to 10 entries, in flight at once. @default 4 */
  readonly concurrency?: number;
  /** Tries per entry, the first included. @default 3 */
  readonly attempts?: number;
  /** The first pause before an entry is put again (doubling each time). @default 100 */
  readonly retryDelayMs?: number;
  readonly onEntryFailure?: (failure: {
    eventId: string;
    type: string;
    errorCode: string;
    attempt: number;
  }) => void;
}

/** PutEvents' limit on entries per call (EventBridge quotas: "PutEvents: 10 entries per request"). */
export const PUT_EVENTS_MAX_ENTRIES = 10;

export class EventBridgePublisher implements EventPublisher {
  readonly #client: EventBridgeClient;
  readonly #options: Required<Omit<EventBridgePublisherOptions, 'onEntryFailure'>> &
    Pick<EventBridgePublisherOptions, 'onEntryFailure'>;

  constructor(client: EventBridgeClient, options: EventBridgePublisherOptions) {
    this.#client = client;
    this.#options = { concurrency: 4, attempts: 3, retryDelayMs: 100, ...options };
  }

  async publish(events: readonly LifecycleEvent[]): Promise<{ failedEventIds: string[] }> {
    const chunks: LifecycleEvent[][] = [];
    for (let i = 0; i < events.length; i += PUT_EVENTS_MAX_ENTRIES)
      chunks.push(events.slice(i, i + PUT_EVENTS_MAX_ENTRIES));
    const failed = await pLimit(this.#options.concurrency).map(chunks, (chunk) => this.#putChunk(chunk));
    return { failedEventIds: failed.flat() };
  }

  /** Puts one chunk, retrying the entries refused; answers the eventIds still refused. */
  async #putChunk(chunk: readonly LifecycleEvent[]): Promise<string[]> {
    let pending = [...chunk];
    for (let attempt = 1; pending.length > 0; attempt++) {
      const refused = await this.#put(pending, attempt);
      if (refused.length === 0 || attempt >= this.#options.attempts)
        return refused.map((e) => e.detail.eventId);
      await new Promise((resolve) => setTimeout(resolve, this.#options.retryDelayMs * 2 ** (attempt - 1)));
      pending = refused;
    }
    return [];
  }

  async #put(events: readonly LifecycleEvent[], attempt: number): Promise<LifecycleEvent[]> {
    let output: { FailedEntryCount?: number; Entries?: { ErrorCode?: string }[] };
    try {
      output = await this.#client.send(new PutEventsCommand({ Entries: events.map((e) => this.#entry(e)) }));
    } catch (error) {
      const errorCode = error instanceof Error ? error.name : 'Error';
      for (const e of events)
        this.#options.onEntryFailure?.({ eventId: e.detail.eventId, type: e.type, errorCode, attempt });
      return [...events];
    }
    if (!output.FailedEntryCount) return [];
    return events.filter((event, i) => {
      const errorCode = output.Entries?.[i]?.ErrorCode;
      // An answer without this entry's result cannot prove it was taken: put it again (ids dedupe).
      const refused = errorCode !== undefined || output.Entries?.[i] === undefined;
      if (refused)
        this.#options.onEntryFailure?.({
          eventId: event.detail.eventId,
          type: event.type,
          errorCode: errorCode ?? 'MissingEntry',
          attempt,
        });
      return refused;
    });
  }

  #entry(event: LifecycleEvent): PutEventsRequestEntry {
    return {
      EventBusName: this.#options.busName,
      Source: EVENT_SOURCE,
      DetailType: event.type,
      Detail: JSON.stringify(event.detail),
      Time: new Date(event.detail.occurredAt),
    };
  }
}
