import pLimit from 'p-limit';
import type { ErasableBroadcast } from '../adapters/dynamo-erasures.ts';
import { LIST_RETENTION_DAYS } from '../core/chunks.ts';
import {
  addProgress,
  type Erasure,
  type ErasureProgress,
  PROVIDER_DELETE_GIVE_UP_HOURS,
  PROVIDER_DELETE_RETRY_SECONDS,
  PROVIDER_PENDING_LIMIT,
  type ProviderMessageDeletion,
} from '../core/erasure.ts';
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
 * 4. the message records at Twilio: their SIDs are taken from the history before step 1 deletes it
 *    (kept on the erasure record, never the number) and deleted in step 3. Twilio keeps a message
 *    that is not final yet (20009): those are tried again every PROVIDER_DELETE_RETRY_SECONDS, the
 *    erasure `running` meanwhile, for up to PROVIDER_DELETE_GIVE_UP_HOURS; then it completes, and
 *    what is left is counted (and returned, for the worker to log their SIDs).
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
    /** The provider SIDs of the person's messages with this tenant, from the history (both directions). */
    messageSids(tenantId: string, phone: string): Promise<string[]>;
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
  /** Deletes message records at the provider, on the accounts the tenant's messages went through. */
  readonly providerMessages: (tenantId: string) => Promise<ProviderMessageDeletion>;
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
): Promise<{
  status: 'missing' | 'completed' | 'continued';
  /** SIDs Twilio still held when the erasure gave up on them (for the operator). */
  providerLeft?: readonly string[];
  /** A Twilio call that failed in this pass (retried with the messages not final yet). */
  providerError?: string;
}> {
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

  /** The history's SIDs kept on the record before the history goes (Twilio's copies are deleted last). */
  const keepProviderSids = async (): Promise<readonly string[]> => {
    const pending = erasure.providerPending ?? [];
    const sids = [...new Set([...pending, ...(await deps.erasures.messageSids(tenantId, phone))])];
    const kept = sids.slice(0, PROVIDER_PENDING_LIMIT);
    if (kept.length > pending.length)
      await save({ providerMessagesLeft: sids.length - kept.length }, { providerPending: kept });
    return kept;
  };

  if (task.final) {
    const sids = await keepProviderSids();
    const historyDeleted = await deps.erasures.deleteHistory(tenantId, phone);
    const done = await deleteAtProvider(await deps.providerMessages(tenantId), sids, deadline);
    const counted = {
      historyDeleted,
      providerMessagesDeleted: done.deleted,
      providerMessagesNotFound: done.notFound,
    };
    const givenUp =
      now().getTime() - Date.parse(erasure.createdAt) >= PROVIDER_DELETE_GIVE_UP_HOURS * 3_600_000;
    if (done.unprocessed.length > 0 || (done.notFinal.length > 0 && !givenUp)) {
      const waiting = [...done.unprocessed, ...done.notFinal];
      const kept = waiting.slice(0, PROVIDER_PENDING_LIMIT);
      const delaySeconds = done.unprocessed.length > 0 ? 0 : PROVIDER_DELETE_RETRY_SECONDS;
      await save(
        {
          ...counted,
          providerMessagesPending: kept.length,
          providerMessagesLeft: waiting.length - kept.length,
        },
        {
          providerPending: kept,
          providerRetryAt: new Date(now().getTime() + delaySeconds * 1000).toISOString(),
        },
      );
      // Out of time: straight on; Twilio not ready: after the retry delay.
      await deps.continueWith({ tenantId, erasureId: task.erasureId, phone, final: true }, delaySeconds);
      return { status: 'continued', ...(done.error ? { providerError: done.error } : {}) };
    }
    const at = now().toISOString();
    await save(
      { ...counted, providerMessagesPending: 0, providerMessagesLeft: done.notFinal.length },
      { status: 'completed', completedAt: at, providerPending: [], providerRetryAt: undefined },
    );
    return {
      status: 'completed',
      ...(done.notFinal.length > 0 ? { providerLeft: done.notFinal } : {}),
      ...(done.error ? { providerError: done.error } : {}),
    };
  }

  if (erasure.status === 'queued') {
    await keepProviderSids();
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

/** SIDs deleted at once (Twilio's API takes concurrent requests; a few suffice for one person). */
const DELETE_CONCURRENCY = 4;

/**
 * Deletes what it can before `deadline`: counts, what is not final yet (or failed: `error` is the
 * first failure's message), and what it had no time for.
 */
async function deleteAtProvider(
  provider: ProviderMessageDeletion,
  sids: readonly string[],
  deadline: number,
): Promise<{ deleted: number; notFound: number; notFinal: string[]; unprocessed: string[]; error?: string }> {
  const limit = pLimit(DELETE_CONCURRENCY);
  const result: {
    deleted: number;
    notFound: number;
    notFinal: string[];
    unprocessed: string[];
    error?: string;
  } = { deleted: 0, notFound: 0, notFinal: [], unprocessed: [] };
  await Promise.all(
    sids.map((sid) =>
      limit(async () => {
        if (Date.now() >= deadline) {
          result.unprocessed.push(sid);
          return;
        }
        // A failed call (an outage, a token being rotated) waits like a message not final yet: the
        // erasure retries it on the same cadence instead of failing its task towards the dead letters.
        const answer = await provider.delete(sid).catch((error: unknown) => {
          result.error ??= error instanceof Error ? error.message : String(error);
          return 'not_final' as const;
        });
        if (answer === 'deleted') result.deleted += 1;
        else if (answer === 'not_found') result.notFound += 1;
        else result.notFinal.push(sid);
      }),
    ),
  );
  return result;
}
