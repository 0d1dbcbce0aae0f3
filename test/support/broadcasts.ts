import type { HandlerLogger } from '../../functions/commons/powertools.ts';
import type { Broadcast, BroadcastStore, ChunkEntry, RecipientKey } from '../../functions/core/ports.ts';

let sequence = 0;

/**
 * A broadcast stored as the create route stores it (the list in chunks), optionally fanned out as
 * the fan-out consumer would: the starting point of tests that exercise one stage on its own.
 */
export async function storeBroadcast(
  store: BroadcastStore,
  options: {
    tenantId: string;
    entries: ChunkEntry[];
    contentSid?: string;
    chunkSize?: number;
    expand?: boolean;
    createdAt?: Date;
    scheduledAt?: Date;
  },
): Promise<{ broadcast: Broadcast; keys: RecipientKey[] }> {
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
    template: { contentSid: options.contentSid ?? `HX${'0'.repeat(32)}`, variables: { '1': '{{name}}' } },
    totalRecipients: options.entries.length,
    chunkCount: chunks.length,
    chunksExpanded: 0,
    fingerprint: `fp-${broadcastId}`,
    bodyFingerprint: `body-${broadcastId}`,
    invalidRecipientsCount: 0,
    invalidRecipients: [],
    duplicateRecipientsCount: 0,
  };
  const created = await store.createBroadcast(broadcast, chunks, {
    fingerprintExpiresAt: Math.floor(Date.now() / 1000) + 600,
  });
  if (!created.created) throw new Error('the test broadcast was not created');
  if (options.expand) await expandAll(store, broadcast);
  const stored = await store.getBroadcast(options.tenantId, broadcastId);
  if (!stored) throw new Error('the test broadcast was not stored');
  return {
    broadcast: stored,
    keys: options.entries.map((e) => ({ tenantId: options.tenantId, broadcastId, index: e.index })),
  };
}

/** Expands every chunk as the fan-out consumer does (without enqueueing send tasks). */
export async function expandAll(store: BroadcastStore, broadcast: Broadcast): Promise<void> {
  for (let chunk = 0; chunk < broadcast.chunkCount; chunk++) {
    const entries = await store.readChunk(broadcast.tenantId, broadcast.broadcastId, chunk);
    await store.expandChunk(broadcast, chunk, entries);
    await store.markChunkExpanded(broadcast, chunk);
  }
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
