import type { ErasableBroadcast } from '../adapters/dynamo-erasures.ts';
import { LIST_RETENTION_DAYS } from '../core/chunks.ts';
import { addProgress, type Erasure, type ErasureProgress } from '../core/erasure.ts';
import { whatsAppIdentity } from '../core/phones.ts';

/**
 * One erasure, run by the erasures queue's worker (functions/erase-worker.ts), in steps that each
 * may be repeated (a redelivered task redoes what it finds still there, nothing more):
 *
 * 1. the person's own items: the contact and its group memberships (counts moved), the send history
 *    (frequency caps), the free-text detail of a suppression (the suppression itself stays: an
 *    opt-out must keep being honoured), import row errors quoting the number, the number in
 *    campaigns' audiences;
 * 2. every broadcast of the tenant, newest first: the person's recipient items are redacted (phone
 *    replaced, unsent ones cancelled, retries dropped: statuses stay, so counts stay consistent), and
 *    their entries in the stored list, while it is kept (30 days), are redacted and marked skipped,
 *    and refused inputs quoting it (a broadcast's `invalidRecipients`) lose the quote;
 * 3. a last pass, `settleSeconds` later (the stream aggregator files a history entry a few seconds
 *    after a callback, so one may land after step 2): the person's message history with the tenant
 *    is deleted, and the erasure is completed.
 *
 * Near the invocation's deadline the rest is handed to a new task (`after`: the last broadcast done).
 */
export interface ErasureTask {
  readonly tenantId: string;
  readonly erasureId: string;
  /** The number to erase (E.164): only on the queue, never stored in the table. */
  readonly phone: string;
  /** The sort key of the last broadcast done (step 2 resumes after it). */
  readonly after?: string;
  /** Step 3 is due. */
  readonly final?: boolean;
}

export interface ErasePersonDeps {
  readonly erasures: {
    get(tenantId: string, erasureId: string): Promise<Erasure | undefined>;
    save(erasure: Erasure): Promise<void>;
    deleteHistory(tenantId: string, phone: string): Promise<number>;
    deleteSendHistory(tenantId: string, phones: readonly string[]): Promise<void>;
    minimizeSuppression(tenantId: string, phone: string): Promise<boolean>;
    redactImportErrors(tenantId: string, phone: string): Promise<number>;
    redactCampaigns(tenantId: string, phone: string): Promise<number>;
    redactInvalidInputs(tenantId: string, broadcastId: string, phone: string): Promise<number>;
    broadcastsPage(
      tenantId: string,
      after: string | undefined,
      limit: number,
    ): Promise<{ items: ErasableBroadcast[]; next?: string }>;
    redactRecipients(tenantId: string, broadcastId: string, phone: string, at: Date): Promise<number>;
    redactListEntries(tenantId: string, broadcastId: string, phone: string, at: Date): Promise<number>;
  };
  readonly contacts: { erase(tenantId: string, phone: string): Promise<boolean> };
  /** Hands the rest on (`delaySeconds`: not before then). */
  readonly continueWith: (task: ErasureTask, delaySeconds?: number) => Promise<void>;
  readonly settleSeconds: number;
  readonly now?: () => Date;
}

/** Broadcasts read per page. */
const PAGE = 10;
/** A stored list is kept LIST_RETENTION_DAYS from the start (a day's margin for clocks). */
const LIST_KEPT_MS = (LIST_RETENTION_DAYS + 1) * 86_400_000;

/** Runs the erasure until done or `deadline` (epoch ms); answers what it did. */
export async function erasePerson(
  deps: ErasePersonDeps,
  task: ErasureTask,
  deadline: number,
): Promise<{ status: 'missing' | 'completed' | 'continued' }> {
  const now = deps.now ?? (() => new Date());
  const found = await deps.erasures.get(task.tenantId, task.erasureId);
  if (!found) return { status: 'missing' };
  if (found.status === 'completed') return { status: 'completed' };
  let erasure = found;
  const save = async (more: Partial<ErasureProgress>, patch: Partial<Erasure> = {}) => {
    erasure = {
      ...erasure,
      ...patch,
      progress: addProgress(erasure.progress, more),
      updatedAt: now().toISOString(),
    };
    await deps.erasures.save(erasure);
  };
  const { tenantId, phone } = task;

  if (task.final) {
    const historyDeleted = await deps.erasures.deleteHistory(tenantId, phone);
    const at = now().toISOString();
    await save({ historyDeleted }, { status: 'completed', completedAt: at });
    return { status: 'completed' };
  }

  if (erasure.status === 'queued') {
    const [contactErased, suppressionKept, importErrorsRedacted, campaignsChanged, historyDeleted] =
      await Promise.all([
        deps.contacts.erase(tenantId, phone),
        deps.erasures.minimizeSuppression(tenantId, phone),
        deps.erasures.redactImportErrors(tenantId, phone),
        deps.erasures.redactCampaigns(tenantId, phone),
        deps.erasures.deleteHistory(tenantId, phone),
        deps.erasures.deleteSendHistory(tenantId, [phone, whatsAppIdentity(phone)]),
      ]);
    await save(
      { contactErased, suppressionKept, importErrorsRedacted, campaignsChanged, historyDeleted },
      { status: 'running' },
    );
  }

  let after = task.after;
  for (;;) {
    const page = await deps.erasures.broadcastsPage(tenantId, after, PAGE);
    for (const broadcast of page.items) {
      if (Date.now() >= deadline) {
        await deps.continueWith({ tenantId, erasureId: task.erasureId, phone, ...(after ? { after } : {}) });
        return { status: 'continued' };
      }
      const at = now();
      const start = Math.max(
        Date.parse(broadcast.createdAt) || 0,
        Date.parse(broadcast.scheduledAt ?? '') || 0,
      );
      // The stored list first: it may write skipped items for recipients whose send is still queued.
      const listEntriesRedacted =
        at.getTime() - start < LIST_KEPT_MS
          ? await deps.erasures.redactListEntries(tenantId, broadcast.broadcastId, phone, at)
          : 0;
      const recipientsRedacted = await deps.erasures.redactRecipients(
        tenantId,
        broadcast.broadcastId,
        phone,
        at,
      );
      const invalidInputsRedacted = await deps.erasures.redactInvalidInputs(
        tenantId,
        broadcast.broadcastId,
        phone,
      );
      after = `BROADCAST#${broadcast.broadcastId}`;
      await save({ broadcastsScanned: 1, recipientsRedacted, listEntriesRedacted, invalidInputsRedacted });
    }
    if (!page.next) break;
    after = page.next;
  }
  await deps.continueWith({ tenantId, erasureId: task.erasureId, phone, final: true }, deps.settleSeconds);
  return { status: 'continued' };
}
