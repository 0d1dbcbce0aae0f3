import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EmfMetrics, writeDocument } from '../functions/commons/emf-metrics.ts';

/** One EMF document's declared metrics and dimension sets, and its values (as CloudWatch reads it). */
interface EmfDocument {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

const dir = mkdtempSync(join(tmpdir(), 'emf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('EmfMetrics (Powertools Metrics in EMF)', () => {
  it('sums counts per dimension set into one document each, with the ErrorCode total alongside', () => {
    const metrics = new EmfMetrics({ serviceName: () => 'svc' });
    metrics.record('MessagesSent', 1, {});
    metrics.record('MessagesSent', 1, {});
    metrics.record('MessagesFailed', 1, { ErrorCode: '21211' });
    metrics.record('MessagesFailed', 1, { ErrorCode: '63024' });
    metrics.record('MessagesFailed', 1, { ErrorCode: '21211' });
    const docs = metrics.documents() as EmfDocument[];
    const byDims = (dims: string[]) =>
      docs.filter((d) => JSON.stringify(d._aws.CloudWatchMetrics[0]?.Dimensions) === JSON.stringify([dims]));
    // No dimension but `service`: sent and the failure total in one line.
    expect(byDims(['service'])).toEqual([
      expect.objectContaining({ service: 'svc', MessagesSent: 2, MessagesFailed: 3 }),
    ]);
    expect(byDims(['service', 'ErrorCode'])).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ErrorCode: '21211', MessagesFailed: 2 }),
        expect.objectContaining({ ErrorCode: '63024', MessagesFailed: 1 }),
      ]),
    );
    expect(docs).toHaveLength(3);
    for (const doc of docs) expect(doc._aws.CloudWatchMetrics[0]?.Namespace).toBe('WhatsAppBroadcast');
    // The buffer is emptied: nothing is written twice.
    expect(metrics.documents()).toEqual([]);
  });

  it('keeps each timing value (for percentiles), at most 99 per document (Powertools would write a 100th itself)', () => {
    const metrics = new EmfMetrics({ serviceName: () => 'svc' });
    for (let n = 0; n < 150; n++) metrics.record('FirstSendLatency', n, {});
    const docs = metrics.documents() as EmfDocument[];
    expect(docs.map((d) => (d.FirstSendLatency as number[]).length)).toEqual([99, 51]);
    expect(docs[0]?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
      { Name: 'FirstSendLatency', Unit: 'Milliseconds' },
    ]);
  });

  it('writes to METRICS_FILE on the twin, nothing when POWERTOOLS_METRICS_DISABLED, and a level on Lambda', () => {
    const file = join(dir, 'metrics.jsonl');
    writeDocument({ a: 1 }, { METRICS_FILE: file });
    writeDocument({ a: 2 }, { METRICS_FILE: file, POWERTOOLS_METRICS_DISABLED: 'true' });
    writeDocument({ a: 3 }, { METRICS_FILE: file });
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n{"a":3}\n');

    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      // Lambda drops a line without a level below the function's log level (WARN): it gets that level.
      writeDocument({ a: 4 }, { AWS_LAMBDA_LOG_LEVEL: 'WARN' });
      writeDocument({ a: 5 }, {});
    } finally {
      spy.mockRestore();
    }
    expect(written.map((line) => JSON.parse(line))).toEqual([
      { level: 'WARN', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), a: 4 },
      { a: 5 },
    ]);
  });

  it('keeps writing to METRICS_FILE after the file was removed or another file took its name', () => {
    const file = join(dir, 'kept.jsonl');
    writeDocument({ a: 1 }, { METRICS_FILE: file });
    rmSync(file);
    writeDocument({ a: 2 }, { METRICS_FILE: file });
    expect(readFileSync(file, 'utf8')).toBe('{"a":2}\n');
    renameSync(file, `${file}.old`);
    writeFileSync(file, '');
    writeDocument({ a: 3 }, { METRICS_FILE: file });
    expect(readFileSync(file, 'utf8')).toBe('{"a":3}\n');
  });

  it('records the same after a document as before it (nothing of the last one is carried over)', () => {
    const metrics = new EmfMetrics({ serviceName: () => 'svc' });
    metrics.record('StatusCallbacks', 1, { Status: 'delivered' });
    metrics.documents();
    metrics.record('MessagesSent', 2, {});
    const docs = metrics.documents() as EmfDocument[];
    expect(docs).toHaveLength(1);
    expect(docs[0]?.MessagesSent).toBe(2);
    expect(docs[0]?.StatusCallbacks).toBeUndefined();
    expect(docs[0]?.Status).toBeUndefined();
  });

  it('a write that fails never fails the invocation', () => {
    const metrics = new EmfMetrics({
      write: () => {
        throw new Error('disk full');
      },
    });
    metrics.record('PacedWaits', 1, {});
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(() => metrics.flush()).not.toThrow();
    } finally {
      spy.mockRestore();
    }
  });
});
