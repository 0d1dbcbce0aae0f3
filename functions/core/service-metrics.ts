/**
 * The service's operational metrics (CloudWatch namespace `WhatsAppBroadcast`), as the use cases
 * record them: a port with no AWS in it. Handlers wire the EMF adapter
 * (functions/commons/emf-metrics.ts, Powertools Metrics), tests a capturing one.
 *
 * Cardinality is the bill: CloudWatch charges each distinct namespace + metric name + dimension
 * combination as one custom metric ($0.30 a month each for the first 10,000, us-east-1;
 * https://aws.amazon.com/cloudwatch/pricing/). So no tenant, broadcast or phone is ever a dimension;
 * every dimension below takes a small, bounded set of values, and every metric also carries
 * Powertools' constant `service` dimension. A test send (`test: true`) records nothing.
 */
import type { ProviderReportedStatus } from './statuses.ts';

export const METRICS_NAMESPACE = 'WhatsAppBroadcast';

/** Where an authentication failure with Twilio was seen. */
export type AuthFailureSource = 'rest' | 'webhook';

/**
 * Each metric with the dimensions it is recorded with (an empty object: none but `service`).
 * `MessagesFailed` is also published without its ErrorCode (see METRIC_SPECS), for rates.
 */
export interface MetricDimensions {
  /** Twilio accepted a message (its create answered a SID): template or follow-up. */
  MessagesSent: Record<string, never>;
  /** A message failed: Twilio refused the create, or a callback said failed/undelivered. */
  MessagesFailed: { ErrorCode: string };
  /** Twilio said "slow down" (HTTP 429, 20429, 63018): the task went back on the queue. */
  ProviderRateLimited: Record<string, never>;
  /** A failed recipient was scheduled for a retry (core/retry-policy.ts). */
  RetriesScheduled: Record<string, never>;
  /** A signed status callback that reported a recipient status (duplicates included). */
  StatusCallbacks: { Status: ProviderReportedStatus };
  /** A send task put back on the queue because the sender had no free slot in this invocation. */
  PacedWaits: Record<string, never>;
  /**
   * A send reached its booked slot too late to use it (a stalled Lambda, a slow read) and booked
   * another while the sender was busy (core/pacing.ts foundSenderBusy): the slot went unused inside a
   * run of booked sends, one slot interval of the sender's capacity lost. A miss while the sender is
   * idle or nearly so only delays that send, and is not counted.
   */
  MissedSendSlots: Record<string, never>;
  /** Twilio refused our credentials (20003/401), or a webhook came with a bad X-Twilio-Signature. */
  TwilioAuthFailures: { Source: AuthFailureSource };
  /** Broadcasts the sweeper found stalled past SWEEP_STALE_SECONDS in one run (0 included). */
  StuckBroadcasts: Record<string, never>;
  /** Milliseconds from a broadcast being due (created, or its scheduledAt) to its first claimed send. */
  FirstSendLatency: Record<string, never>;
  /** An admin write whose audit entry could not be written (commons/admin-route.ts): the log misses it. */
  AuditWriteFailures: Record<string, never>;
}

export type MetricName = keyof MetricDimensions;
export type MetricUnit = 'Count' | 'Milliseconds';

export interface MetricSpec {
  readonly unit: MetricUnit;
  /** The dimension names recorded (beyond `service`). */
  readonly dimensions: readonly string[];
  /** Also published without its dimensions (one more series: the total). */
  readonly withTotal?: boolean;
}

export const METRIC_SPECS: { readonly [K in MetricName]: MetricSpec } = {
  MessagesSent: { unit: 'Count', dimensions: [] },
  MessagesFailed: { unit: 'Count', dimensions: ['ErrorCode'], withTotal: true },
  ProviderRateLimited: { unit: 'Count', dimensions: [] },
  RetriesScheduled: { unit: 'Count', dimensions: [] },
  StatusCallbacks: { unit: 'Count', dimensions: ['Status'] },
  PacedWaits: { unit: 'Count', dimensions: [] },
  MissedSendSlots: { unit: 'Count', dimensions: [] },
  TwilioAuthFailures: { unit: 'Count', dimensions: ['Source'] },
  StuckBroadcasts: { unit: 'Count', dimensions: [] },
  FirstSendLatency: { unit: 'Milliseconds', dimensions: [] },
  AuditWriteFailures: { unit: 'Count', dimensions: [] },
};

/** What use cases record through. Recording never throws and never waits. */
export interface ServiceMetrics {
  record<K extends MetricName>(name: K, value: number, dimensions: MetricDimensions[K]): void;
}

/** Records nothing: test sends, and deps that were given no metrics. */
export const NO_METRICS: ServiceMetrics = { record: () => {} };

/** Twilio's codes for "your credentials are wrong": 20003 (HTTP 401). TWILIO.md "Error codes". */
export const AUTH_FAILURE_CODES: ReadonlySet<number> = new Set([20003, 401]);

/** One recorded value, as a capturing ServiceMetrics keeps it. */
export interface RecordedMetric {
  readonly name: MetricName;
  readonly value: number;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** A ServiceMetrics that keeps what it is given (tests), with a sum by name and dimensions. */
export function capturingMetrics(): ServiceMetrics & {
  readonly recorded: RecordedMetric[];
  sum(name: MetricName, dimensions?: Readonly<Record<string, string>>): number;
} {
  const recorded: RecordedMetric[] = [];
  return {
    recorded,
    record: (name, value, dimensions) => {
      recorded.push({ name, value, dimensions: dimensions as Record<string, string> });
    },
    sum: (name, dimensions = {}) =>
      recorded
        .filter((r) => r.name === name && Object.entries(dimensions).every(([k, v]) => r.dimensions[k] === v))
        .reduce((total, r) => total + r.value, 0),
  };
}
