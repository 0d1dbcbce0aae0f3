import { closeSync, fstatSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import {
  METRIC_SPECS,
  METRICS_NAMESPACE,
  type MetricDimensions,
  type MetricName,
  type ServiceMetrics,
} from '../core/service-metrics.ts';

/**
 * ServiceMetrics in CloudWatch's embedded metric format (EMF), through Powertools Metrics: values are
 * summed in memory during an invocation and written at its end (`flushMetrics`, or the
 * `publishMetrics` middleware), one EMF document per dimension set, so a batch of 50 sends is one
 * log line, not 50. Only the functions that import this module bundle Powertools Metrics.
 *
 * Where the documents go:
 * - POWERTOOLS_METRICS_DISABLED=true: nowhere (Powertools' own switch);
 * - METRICS_FILE set (the local twin: DATA_DIR/metrics.jsonl): appended there, one JSON per line, so
 *   `npm start`'s output is not flooded and tests can read what was emitted;
 * - otherwise stdout, which Lambda sends to CloudWatch Logs, where the metrics are extracted.
 *   With JSON logs and a log-level filter, Lambda gives a stdout line without a `level` field the
 *   level INFO and drops it below the function's level (WARN here): "If the level value field is
 *   invalid or missing, Lambda will assign the log output the level INFO", and the same without a
 *   valid RFC 3339 timestamp
 *   (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html). So each
 *   document carries the function's own level (AWS_LAMBDA_LOG_LEVEL), the lowest that is kept, and a
 *   `timestamp`.
 */

/**
 * Values of one metric per document: Powertools writes a document to stdout itself when a metric
 * reaches 100 values (MAX_METRIC_VALUES_SIZE), which would bypass this module's destination.
 */
const MAX_VALUES_PER_DOCUMENT = 99;
/** The twin's metrics file is moved to `<file>.1` past this size, so a long run cannot fill the disk. */
const METRICS_FILE_MAX_BYTES = 20 * 1024 * 1024;

interface Pending {
  readonly name: MetricName;
  readonly dimensions: Readonly<Record<string, string>>;
  values: number[];
}

export class EmfMetrics implements ServiceMetrics {
  readonly #pending = new Map<string, Pending>();
  readonly #serviceName: () => string;
  readonly #write: (document: object) => void;

  constructor(options: { serviceName?: () => string; write?: (document: object) => void } = {}) {
    this.#serviceName =
      options.serviceName ?? (() => process.env.POWERTOOLS_SERVICE_NAME ?? 'whatsapp-broadcast');
    this.#write = options.write ?? writeDocument;
  }

  record<K extends MetricName>(name: K, value: number, dimensions: MetricDimensions[K]): void {
    if (!Number.isFinite(value)) return;
    const spec = METRIC_SPECS[name];
    const given = dimensions as Record<string, string>;
    const dims = Object.fromEntries(spec.dimensions.map((d) => [d, String(given[d] ?? 'none')]));
    this.#add(name, dims, value);
    if (spec.withTotal && spec.dimensions.length > 0) this.#add(name, {}, value);
  }

  /** The EMF documents of everything recorded since the last call; the buffer is emptied. */
  documents(): object[] {
    const groups = new Map<string, Pending[]>();
    for (const pending of this.#pending.values()) {
      const key = JSON.stringify(pending.dimensions);
      groups.set(key, [...(groups.get(key) ?? []), pending]);
    }
    this.#pending.clear();
    const documents: object[] = [];
    for (const group of groups.values()) {
      for (let part = 0; ; part++) {
        const slice = group
          .map((p) => ({
            ...p,
            values: p.values.slice(part * MAX_VALUES_PER_DOCUMENT, (part + 1) * MAX_VALUES_PER_DOCUMENT),
          }))
          .filter((p) => p.values.length > 0);
        if (slice.length === 0) break;
        documents.push(this.#serialize(slice));
      }
    }
    return documents;
  }

  /** Writes what was recorded (never throws: metrics must not fail an invocation). */
  flush(): void {
    try {
      for (const document of this.documents()) this.#write(document);
    } catch (error) {
      process.stderr.write(`metrics not written: ${String(error)}\n`);
    }
  }

  #add(name: MetricName, dimensions: Record<string, string>, value: number) {
    const key = `${name}${JSON.stringify(dimensions)}`;
    const pending = this.#pending.get(key);
    if (!pending) this.#pending.set(key, { name, dimensions, values: [value] });
    // Counts are summed (one value per document); timings keep each value for percentiles.
    else if (METRIC_SPECS[name].unit === 'Count') pending.values[0] = (pending.values[0] ?? 0) + value;
    else pending.values.push(value);
  }

  /**
   * One Powertools Metrics per service name, emptied after each document: building one reads its
   * whole configuration from the environment, 130 us of every invocation.
   */
  #metrics: { serviceName: string; metrics: Metrics } | undefined;

  #serialize(group: readonly Pending[]): object {
    const serviceName = this.#serviceName();
    if (this.#metrics?.serviceName !== serviceName)
      this.#metrics = { serviceName, metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }) };
    const { metrics } = this.#metrics;
    try {
      const dimensions = group[0]?.dimensions ?? {};
      for (const [name, value] of Object.entries(dimensions)) metrics.addDimension(name, value);
      for (const pending of group)
        for (const value of pending.values)
          metrics.addMetric(pending.name, METRIC_SPECS[pending.name].unit, value);
      return metrics.serializeMetrics();
    } finally {
      metrics.clearMetrics();
      metrics.clearDimensions();
    }
  }
}

/**
 * The twin's metrics file, open for appending, and its size: no open and close per document. Reopened
 * when the path names another file by now (a new DATA_DIR, a reset, a rotation elsewhere).
 */
let metricsFile: { path: string; fd: number; ino: number; bytes: number } | undefined;

function appendToMetricsFile(file: string, line: string): void {
  const onDisk = statSync(file, { throwIfNoEntry: false });
  if (metricsFile && (metricsFile.path !== file || metricsFile.ino !== onDisk?.ino)) {
    closeSync(metricsFile.fd);
    metricsFile = undefined;
  }
  if (metricsFile && metricsFile.bytes > METRICS_FILE_MAX_BYTES) {
    closeSync(metricsFile.fd);
    metricsFile = undefined;
    renameSync(file, `${file}.1`);
  }
  if (!metricsFile) {
    const fd = openSync(file, 'a', 0o600);
    const stat = fstatSync(fd);
    metricsFile = { path: file, fd, ino: stat.ino, bytes: stat.size };
  }
  metricsFile.bytes += writeSync(metricsFile.fd, line);
}

/** Where a document goes on Lambda (stdout) or the twin (METRICS_FILE); see the module comment. */
export function writeDocument(document: object, env: NodeJS.ProcessEnv = process.env): void {
  if (/^(1|true|yes|on)$/i.test(env.POWERTOOLS_METRICS_DISABLED ?? '')) return;
  const file = env.METRICS_FILE;
  if (file) {
    appendToMetricsFile(file, `${JSON.stringify(document)}\n`);
    return;
  }
  const level = env.AWS_LAMBDA_LOG_LEVEL;
  // With a level Lambda also wants an RFC 3339 timestamp, or it takes the line for INFO all the same.
  const line = level ? { level, timestamp: new Date().toISOString(), ...document } : document;
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** The process's metrics, shared by the handlers that import this module. */
export const serviceMetrics = new EmfMetrics();

/** Middy middleware: writes the invocation's metrics after the handler, whether it returned or threw. */
export function publishMetrics(metrics: EmfMetrics = serviceMetrics): MiddlewareObj {
  const flush = async () => metrics.flush();
  return { after: flush, onError: flush };
}
