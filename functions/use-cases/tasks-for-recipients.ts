import type { Broadcasts, ChunkEntry, Recipient, SendTask } from '../core/ports.ts';

/**
 * Send tasks for recipients already in the ledger (a retry, a recovery): what to send comes from their
 * entries in the stored list, since the ledger entry keeps no template values. Each chunk is read
 * once however many of its recipients need a task.
 */
export async function sendTasksFor(
  broadcasts: Pick<Broadcasts, 'readChunk'>,
  recipients: readonly Recipient[],
  at: Date,
): Promise<SendTask[]> {
  const chunks = new Map<string, Promise<Map<number, ChunkEntry>>>();
  const entriesOf = (broadcastId: string, chunk: number) => {
    const id = `${broadcastId}/${chunk}`;
    let entries = chunks.get(id);
    if (!entries) {
      entries = indexedEntries(broadcasts, broadcastId, chunk);
      chunks.set(id, entries);
    }
    return entries;
  };
  const tasks: SendTask[] = [];
  for (const recipient of recipients) {
    const entry =
      recipient.chunk !== undefined
        ? (await entriesOf(recipient.broadcastId, recipient.chunk)).get(recipient.index)
        : undefined;
    tasks.push({
      tenantId: recipient.tenantId,
      broadcastId: recipient.broadcastId,
      index: recipient.index,
      attempt: recipient.attempts,
      phone: recipient.phone,
      variables: entry?.contentVariables ?? {},
      ...(recipient.chunk !== undefined ? { chunk: recipient.chunk } : {}),
      queuedAt: recipient.queuedAt ?? at.toISOString(),
      ...(entry?.timeZone ? { timeZone: entry.timeZone } : {}),
    });
  }
  return tasks;
}

async function indexedEntries(broadcasts: Pick<Broadcasts, 'readChunk'>, broadcastId: string, chunk: number) {
  const stored = await broadcasts.readChunk(broadcastId, chunk);
  return new Map(stored.entries.map((e) => [e.index, e]));
}
