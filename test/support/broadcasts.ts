import type { HandlerLogger } from '../../functions/commons/powertools.ts';
import type {
  Broadcast,
  Broadcasts,
  ChunkEntry,
  FollowUpSpec,
  RecipientKey,
  SendHistory,
  SendLedger,
  SendTask,
  TaskQueue,
} from '../../functions/core/ports.ts';
import { createFanOut } from '../../functions/use-cases/fan-out-chunk.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator/content.ts';

let sequence = 0;

/** A TaskQueue that keeps what it is given (with the delay asked for), for tests of one stage on its own. */
export function collectingQueue<T>(): TaskQueue<T> & { tasks: T[]; delays: number[] } {
  const tasks: T[] = [];
  const delays: number[] = [];
  return {
    tasks,
    delays,
    async enqueue(more, options = {}) {
      tasks.push(...more);
      delays.push(...more.map(() => options.delaySeconds ?? 0));
    },
  };
}

/**
 * `n` list entries with distinct Israeli mobile numbers (`+972` + `prefix` + a 7-digit serial) and a
 * name variable each: a list of any size for adapter tests.
 */
export function numberedEntries(n: number, prefix = '50', withName = true): ChunkEntry[] {
  return Array.from({ length: n }, (_, index) => ({
    index,
    phone: `+972${prefix}${String(1_000_000 + index)}`,
    contentVariables: withName ? { '1': `name ${index}` } : ({} as Record<string, string>),
  }));
}

/**
 * A broadcast stored as the create route stores it (the list in chunks), and with `fanOut` handed to
 * the send queue by the real fan-out use case: its chunks counted `queued`, a send task per
 * recipient (returned, not enqueued anywhere: the test decides what becomes of them), suppressed
 * entries written `skipped`. The starting point of tests that exercise one stage on its own.
 */
export async function storeBroadcast(
  deps: { broadcasts: Broadcasts; ledger: SendLedger },
  options: {
    tenantId: string;
    entries: ChunkEntry[];
    contentSid?: string;
    chunkSize?: number;
    fanOut?: boolean;
    createdAt?: Date;
    scheduledAt?: Date;
    followUp?: FollowUpSpec;
    /** More fields of the broadcast (its options: quietHours, frequencyCap, …). */
    fields?: Partial<Broadcast>;
  },
): Promise<{ broadcast: Broadcast; keys: RecipientKey[]; tasks: SendTask[] }> {
  sequence += 1;
  const broadcastId = `brd_TEST${String(sequence).padStart(4, '0')}${Date.now()}`;
  const chunkSize = options.chunkSize ?? 1000;
  const chunks: ChunkEntry[][] = [];
  for (let i = 0; i < options.entries.length; i += chunkSize)
    chunks.push(options.entries.slice(i, i + chunkSize));
  const broadcast: Broadcast = {
    tenantId: options.tenantId,
    broadcastId,
    name: `test ${sequence}`,
    status: options.scheduledAt ? 'scheduled' : 'accepted',
    ...(options.scheduledAt ? { scheduledAt: options.scheduledAt.toISOString() } : {}),
    createdAt: (options.createdAt ?? new Date()).toISOString(),
    // A template the Twilio simulator has, with the one variable numberedEntries fill.
    template: {
      contentSid: options.contentSid ?? SAMPLE_TEMPLATES.subsidyReminder.contentSid,
      variables: { '1': '{{name}}' },
    },
    ...(options.followUp ? { followUp: options.followUp } : {}),
    totalRecipients: options.entries.length,
    skippedCount: options.entries.filter((e) => e.skipped).length,
    chunkCount: chunks.length,
    fingerprint: `fp-${broadcastId}`,
    bodyFingerprint: `body-${broadcastId}`,
    invalidRecipientsCount: 0,
    invalidRecipients: [],
    duplicateRecipientsCount: 0,
    ...options.fields,
  };
  const created = await deps.broadcasts.create(broadcast, chunks, {
    fingerprintExpiresAt: Math.floor(Date.now() / 1000) + 600,
  });
  if (!created.created) throw new Error('the test broadcast was not created');
  const tasks = options.fanOut ? await fanOutAll(deps, broadcast) : [];
  const stored = await deps.broadcasts.get(options.tenantId, broadcastId);
  if (!stored) throw new Error('the test broadcast was not stored');
  return {
    broadcast: stored,
    keys: options.entries.map((e) => ({ tenantId: options.tenantId, broadcastId, index: e.index })),
    tasks,
  };
}

/** Fans out every chunk with the real fan-out use case; returns the send tasks it enqueued. */
export async function fanOutAll(
  deps: { broadcasts: Broadcasts; ledger: SendLedger; history?: Pick<SendHistory, 'record'> },
  broadcast: Broadcast,
): Promise<SendTask[]> {
  const sendQueue = collectingQueue<SendTask>();
  const fanOut = createFanOut({
    broadcasts: deps.broadcasts,
    ledger: deps.ledger,
    sendQueue,
    // The send history is not what these tests are about: not recorded unless given.
    history: deps.history ?? { record: async () => {} },
    logger: silentLogger,
  });
  for (let chunk = 0; chunk < broadcast.chunkCount; chunk++)
    await fanOut({ tenantId: broadcast.tenantId, broadcastId: broadcast.broadcastId, chunk });
  return sendQueue.tasks;
}

export interface LogEntry {
  level: string;
  message: string;
  fields?: unknown;
}

/** A HandlerLogger that keeps what it is told, for tests that check what gets logged (and masked). */
export function capturingLogger(): { logger: HandlerLogger; logs: LogEntry[] } {
  const logs: LogEntry[] = [];
  const capture = (level: string) => (message: string, fields?: unknown) => {
    logs.push({ level, message, fields });
  };
  return {
    logs,
    logger: {
      info: capture('info'),
      warn: capture('warn'),
      error: capture('error'),
      debug: capture('debug'),
    },
  };
}

export const silentLogger: HandlerLogger = { info() {}, warn() {}, error() {}, debug() {} };
