import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MetricName } from '../../functions/core/service-metrics.ts';

/**
 * Every value of one metric the twin's handlers wrote to DATA_DIR/metrics.jsonl (EMF, one document per
 * line, as CloudWatch would extract it), the part last moved aside included (`metrics.jsonl.1`; any
 * part before it is gone), over the documents whose dimensions include `dimensions`.
 * With no dimensions asked, only the documents with no dimension but `service` count (the totals),
 * so a metric also published by ErrorCode is not counted twice.
 */
export function metricValues(
  dataDir: string,
  name: MetricName,
  dimensions: Readonly<Record<string, string>> = {},
): number[] {
  const file = path.join(dataDir, 'metrics.jsonl');
  // The part moved aside past 20 MB first (functions/commons/emf-metrics.ts), then the current one.
  const text = [`${file}.1`, file]
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const values: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const doc = JSON.parse(line) as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] };
    };
    const declared = doc._aws.CloudWatchMetrics[0]?.Dimensions[0] ?? [];
    const wanted = ['service', ...Object.keys(dimensions)];
    if (declared.length !== wanted.length || !wanted.every((d) => declared.includes(d))) continue;
    if (!Object.entries(dimensions).every(([k, v]) => doc[k] === v)) continue;
    const value = doc[name];
    if (typeof value === 'number') values.push(value);
    else if (Array.isArray(value)) values.push(...(value as number[]));
  }
  return values;
}

/** The sum of metricValues: a count's total. */
export function metricSum(
  dataDir: string,
  name: MetricName,
  dimensions: Readonly<Record<string, string>> = {},
): number {
  return metricValues(dataDir, name, dimensions).reduce((a, b) => a + b, 0);
}
