import { describe, expect, it } from 'vitest';
import type { CsvRecord } from '../functions/core/csv-file.ts';
import type { RowError } from '../functions/core/import-rows.ts';
import { type ImportCounts, ZERO_COUNTS } from '../functions/core/import-tally.ts';
import {
  type BatchOutcome,
  BatchWriter,
  type Commit,
  type SealedBatch,
} from '../functions/use-cases/import-batches.ts';

/** Batches written a few at once, checkpoints strictly in file order. */

const record = (row: number): CsvRecord => ({
  fields: [],
  row,
  line: row + 1,
  nextLine: row + 2,
  endOffset: row * 10,
});
const taken = (rows: number): ImportCounts => ({ ...ZERO_COUNTS, processedRows: rows });
const batch = (n: number): SealedBatch => ({ items: [], last: record(n * 100), taken: taken(n * 100) });

/** Writes that finish when the test says, in any order. */
function controlled() {
  const pending = new Map<number, { resolve: (o: BatchOutcome) => void; reject: (e: unknown) => void }>();
  const write = (b: SealedBatch) =>
    new Promise<BatchOutcome>((resolve, reject) => pending.set(b.last.row / 100, { resolve, reject }));
  const finish = async (n: number, outcome: Partial<BatchOutcome> = {}) => {
    pending.get(n)?.resolve({ created: 100, updated: 0, refused: [], ...outcome });
    await new Promise((r) => setImmediate(r));
  };
  const fail = async (n: number) => {
    pending.get(n)?.reject(new Error(`batch ${n} failed`));
    await new Promise((r) => setImmediate(r));
  };
  return { write, finish, fail, pending };
}

describe('BatchWriter', () => {
  it('keeps up to `concurrency` in flight and commits only what every earlier batch allows', async () => {
    const c = controlled();
    const commits: { row: number; counts: ImportCounts; refused: readonly RowError[] }[] = [];
    const writer = new BatchWriter({
      concurrency: 3,
      write: c.write,
      commit: async (commit: Commit, refused) => {
        commits.push({ row: commit.last.row, counts: commit.counts, refused });
      },
      start: { ...ZERO_COUNTS, createdCount: 7 },
    });
    for (const n of [1, 2, 3]) await writer.add(batch(n));
    expect([...c.pending.keys()]).toEqual([1, 2, 3]);
    // The fourth waits for room: the oldest must finish (and be committed) first.
    const fourth = writer.add(batch(4));
    await c.finish(3);
    await c.finish(2);
    expect(commits).toEqual([]);
    await c.finish(1, { refused: [{ row: 42, line: 43, input: '+972', reason: 'contact_limit' }] });
    await fourth;
    // 1, 2 and 3 are done: one checkpoint after 3, with every count of the three.
    expect(commits).toEqual([
      {
        row: 300,
        counts: {
          processedRows: 300,
          duplicateCount: 0,
          invalidCount: 1,
          createdCount: 307,
          updatedCount: 0,
        },
        refused: [{ row: 42, line: 43, input: '+972', reason: 'contact_limit' }],
      },
    ]);
    await c.finish(4);
    await writer.drain();
    expect(commits.at(-1)).toMatchObject({ row: 400, counts: { createdCount: 407, invalidCount: 1 } });
  });

  it('a failed batch stops the checkpoints before it, even when later ones were written; drain throws it', async () => {
    const c = controlled();
    const rows: number[] = [];
    const writer = new BatchWriter({
      concurrency: 4,
      write: c.write,
      commit: async (commit) => {
        rows.push(commit.last.row);
      },
      start: ZERO_COUNTS,
    });
    for (const n of [1, 2, 3]) await writer.add(batch(n));
    await c.finish(1);
    await c.finish(3);
    await c.fail(2);
    await expect(writer.drain()).rejects.toThrow('batch 2 failed');
    expect(rows).toEqual([100]);
    await expect(writer.add(batch(4))).rejects.toThrow('batch 2 failed');
  });
});
