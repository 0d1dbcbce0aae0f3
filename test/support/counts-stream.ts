import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { CounterTotals } from '../../functions/core/count-deltas.ts';
import type {
  Broadcast,
  BroadcastCounters,
  Broadcasts,
  ContactStore,
  SendLedger,
} from '../../functions/core/ports.ts';
import { RECIPIENT_STATUSES } from '../../functions/core/statuses.ts';
import { createAggregator } from '../../functions/use-cases/aggregate-counts.ts';
import { streamArnOf } from '../../lib/local/dynamodb-local.ts';
import { type StreamSource, startStreamSource } from '../../lib/local/dynamodb-stream-source.ts';
import type { Invoke } from '../../lib/local/lambda-runtime.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { topology } from '../../lib/topology.ts';
import { silentLogger } from './broadcasts.ts';

export interface CountsStream {
  readonly source: StreamSource;
  /** Batches the stream source gave up on (its on-failure destination): always empty in a good run. */
  readonly failures: Record<string, unknown>[];
  /** Holds new batches back and resolves once none is being handled: the counts stand still. */
  pause(): Promise<void>;
  /** Lets the held batches through. */
  resume(): void;
  stop(): Promise<void>;
}

/**
 * The counts aggregator (use-cases/aggregate-counts.ts) behind the twin's own DynamoDB Streams event
 * source (lib/local/dynamodb-stream-source.ts: batches, the R# filter, retries with bisection), on the
 * test's DynamoDB Local. `wrap` puts something between the two (a handler that fails on purpose).
 */
export async function startCountsStream(
  db: { endpoint: string; tableName: string },
  deps: {
    broadcasts: Broadcasts;
    counters: BroadcastCounters;
    contacts: Pick<ContactStore, 'recordMessages'>;
  },
  options: {
    wrap?: (aggregate: (records: DynamoDBRecord[]) => Promise<unknown>) => Invoke;
    /** Overrides the topology's record age limit (0: every record is too old). */
    maxRecordAgeSeconds?: number;
  } = {},
): Promise<CountsStream> {
  const spec = topology.streamConsumers[0];
  if (!spec) throw new Error('the topology declares no stream consumer');
  const aggregator = createAggregator({ ...deps, logger: silentLogger });
  const aggregate = (records: DynamoDBRecord[]) => aggregator(records);
  const handler: Invoke =
    options.wrap?.(aggregate) ??
    ((event) => aggregate((event as DynamoDBStreamEvent).Records ?? []).then(() => undefined));
  let held: { gate: Promise<void>; open: () => void } | undefined;
  const resume = () => {
    const opening = held;
    held = undefined;
    opening?.open();
  };
  let inFlight = 0;
  const invoke: Invoke = async (event) => {
    while (held) await held.gate;
    inFlight += 1;
    try {
      return await handler(event);
    } finally {
      inFlight -= 1;
    }
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'counts-stream-'));
  const failures: Record<string, unknown>[] = [];
  const source = startStreamSource({
    endpoint: db.endpoint,
    streamArn: await streamArnOf(db.endpoint, db.tableName),
    // The topology's consumer, without its one-second batching window: tests wait on counts.
    consumer: {
      ...spec,
      maxBatchingWindowSeconds: 0,
      ...(options.maxRecordAgeSeconds !== undefined
        ? { maxRecordAgeSeconds: options.maxRecordAgeSeconds }
        : {}),
    },
    invoke,
    onFailure: async (failure) => {
      failures.push(failure);
    },
    checkpointFile: path.join(dir, 'checkpoint.json'),
    log: () => {},
    pollIntervalMs: 50,
    // Quiet between a test's steps: 4 reads a second then, not 20.
    idlePollIntervalMs: 250,
  });
  return {
    source,
    failures,
    async pause() {
      if (!held) {
        let open = () => {};
        const gate = new Promise<void>((resolve) => {
          open = resolve;
        });
        held = { gate, open };
      }
      await waitFor(() => inFlight === 0, { timeoutMs: 10_000, message: 'a stream batch never finished' });
    },
    resume,
    async stop() {
      resume();
      await source.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Counter totals as comparable values: statuses, error codes and pending retries, zeros left out. */
export interface CountedTotals {
  readonly statuses: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly retriesPending: number;
}

const nonZero = (values: Record<string, number | undefined>) =>
  Object.fromEntries(Object.entries(values).filter(([, n]) => n !== undefined && n !== 0)) as Record<
    string,
    number
  >;

export function comparable(totals: CounterTotals): CountedTotals {
  return {
    statuses: nonZero(totals.statuses),
    errors: nonZero(totals.errors),
    retriesPending: totals.retriesPending,
  };
}

/**
 * What the counters must say, read from the ledger itself: each written recipient by its status,
 * error code and scheduled retry; each entry of a counted chunk that was never written, `queued`.
 */
export async function ledgerTotals(
  deps: { broadcasts: Broadcasts; ledger: SendLedger },
  broadcast: Broadcast,
): Promise<CountedTotals> {
  const written = await deps.ledger.inStatuses(broadcast, RECIPIENT_STATUSES);
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let retriesPending = 0;
  const add = (into: Record<string, number>, key: string) => {
    into[key] = (into[key] ?? 0) + 1;
  };
  for (const r of written) {
    add(statuses, r.status);
    if ((r.status === 'failed' || r.status === 'undelivered') && r.errorCode !== undefined)
      add(errors, String(r.errorCode));
    // A recipient that waits (quiet hours, the messaging limit) has a release time, not a retry.
    if (r.nextRetryAt && !r.waitReason) retriesPending += 1;
  }
  const seen = new Set(written.map((r) => r.index));
  for (let chunk = 0; chunk < broadcast.chunkCount; chunk++) {
    const stored = await deps.broadcasts.readChunk(broadcast.broadcastId, chunk);
    if (!stored.state) continue;
    for (const entry of stored.entries) if (!seen.has(entry.index)) add(statuses, 'queued');
  }
  return { statuses, errors, retriesPending };
}

/** Waits until the counters agree with the ledger (the aggregator caught up) and returns them. */
export async function untilCountsMatchLedger(
  deps: { broadcasts: Broadcasts; ledger: SendLedger; counters: BroadcastCounters },
  broadcast: Broadcast,
  timeoutMs = 15_000,
): Promise<CountedTotals> {
  let last: { counted: CountedTotals; expected: CountedTotals } | undefined;
  try {
    return await waitFor(
      async () => {
        const [counted, expected] = await Promise.all([
          deps.counters.totals(broadcast.broadcastId).then(comparable),
          ledgerTotals(deps, broadcast),
        ]);
        last = { counted, expected };
        return JSON.stringify(sorted(counted)) === JSON.stringify(sorted(expected)) ? counted : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
  } catch {
    throw new Error(
      `the counters of ${broadcast.broadcastId} never matched the ledger: ${JSON.stringify(last)}`,
    );
  }
}

function sorted(totals: CountedTotals) {
  const order = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort());
  return { statuses: order(totals.statuses), errors: order(totals.errors), r: totals.retriesPending };
}
