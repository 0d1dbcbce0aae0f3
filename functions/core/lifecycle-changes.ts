import type { StatusCounts } from './counts.ts';
import {
  eventIdOf,
  LIFECYCLE_EVENT_SCHEMAS,
  type LifecycleEvent,
  type LifecycleEventDetail,
} from './lifecycle-events.ts';
import { maskPhone } from './phones.ts';
import { CANCELLABLE_BROADCAST_STATUSES } from './statuses.ts';

/**
 * Which changes of the main table's items are lifecycle events (core/lifecycle-events.ts), read from
 * the table's stream (NEW_AND_OLD_IMAGES) by functions/publish-events.ts. Deriving events from the
 * stored change, rather than from the code that made it, is what makes them at least once: the
 * change is on the stream whether or not anything after it succeeded, and the stream is retried
 * until the events are on the bus.
 *
 * The transitions that mean each event (item layouts: adapters/table-layout.ts, dynamo-imports.ts,
 * dynamo-contact-store.ts):
 * - broadcast.created: a broadcast item (`TENANT#<t>` / `BROADCAST#<id>`) inserted. A broadcast is
 *   stored once, conditionally, so a repeated request (same Idempotency-Key) inserts nothing;
 * - campaign.run.started: the same insert, for a broadcast that carries `campaign` (a run's one
 *   broadcast; a skipped or failed run creates none). The RUN# record is not used: it carries no
 *   tenant id, and is written after the broadcast;
 * - broadcast.completed / broadcast.failed: its status moved to completed or partial / failed (also
 *   after a reopen: completed → running → partial is a second, distinct completion, with its own
 *   completedAt, hence its own id). Counts are read when published (the use case adds them);
 * - broadcast.paused: its status moved to paused (an admin, or the canary), keyed by pausedAt;
 * - broadcast.cancelled: its status moved to cancelled (an admin's cancel), keyed by the broadcast
 *   (nothing leaves cancelled, so a broadcast is cancelled once). No counts: the sends claimed
 *   before the cancel settle, and the counters count them, seconds after this change (the cancel's
 *   own answer, cancelledCount, waits for them);
 * - contact.opted_out: a tenant's suppression item (`SUPPRESS#<t>` / `<phone>`) now has an opt-out
 *   reason and had none before: STOP or an opt-out button (the inbound webhook writes one per
 *   tenant that messaged the person), or Twilio's word that the person unsubscribed or blocked the
 *   sender (21610, 63014: the send or its callback writes one for the tenant that sent). A second
 *   STOP (the item rewritten) is no new event, nor is a STOP after such a provider error;
 * - contact.opted_in: such an item removed, so every contact.opted_out has its end (an admin's POST
 *   keeps such an item rather than replace it: suppressions.ts). START removes it (an admin's DELETE
 *   /v1/suppressions/{phone} is refused while the person's sender-wide opt-out stands, 409); an admin
 *   may delete a provider error's. It names the reason it ends. The sender-wide item (`SUPPRESS#*`)
 *   belongs to no tenant and makes no event of its own;
 * - import.completed: an import item (`TENANT#<t>` / `IMPORT#<id>`) moved to completed or failed.
 */

/** One item change from the stream, its images unmarshalled. */
export interface ItemChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly pk: string;
  readonly sk: string;
  readonly oldImage?: Readonly<Record<string, unknown>>;
  readonly newImage?: Readonly<Record<string, unknown>>;
  /** When the stream recorded it (ApproximateCreationDateTime): the time of a removal. */
  readonly at: Date;
}

type FinishedType = 'broadcast.completed' | 'broadcast.failed';

/** A broadcast's end: an event once its final counts are added (withCounts). */
export interface FinishedBroadcast {
  readonly type: FinishedType;
  readonly tenantId: string;
  readonly broadcastId: string;
  /** What displayCounts needs to show the counts as the API does. */
  readonly broadcast: { readonly totalRecipients: number; readonly status: string };
  readonly detail: Omit<LifecycleEventDetail<FinishedType>, 'counts'>;
}

export type DerivedEvent = { readonly event: LifecycleEvent } | { readonly finished: FinishedBroadcast };

/** Opt-outs: the person's own (STOP, a button), and Twilio's word for one (21610, 63014). */
const OPT_OUT_REASONS: readonly string[] = ['opt_out_keyword', 'opt_out_button', 'provider_error'];
const SENDER_WIDE = 'SUPPRESS#*';

/** The lifecycle events one item change means, in order (none for most changes). */
export function eventsOfChange(change: ItemChange): DerivedEvent[] {
  if (change.pk.startsWith('TENANT#') && change.sk.startsWith('BROADCAST#')) return broadcastEvents(change);
  if (change.pk.startsWith('TENANT#') && change.sk.startsWith('IMPORT#')) return importEvents(change);
  if (change.pk.startsWith('SUPPRESS#') && change.pk !== SENDER_WIDE) return suppressionEvents(change);
  return [];
}

/** The event a finished broadcast's counts complete. */
export function withCounts(finished: FinishedBroadcast, counts: StatusCounts): LifecycleEvent {
  const detail = { ...finished.detail, counts };
  return finished.type === 'broadcast.completed'
    ? {
        type: 'broadcast.completed',
        detail: LIFECYCLE_EVENT_SCHEMAS['broadcast.completed'].parse(detail),
      }
    : { type: 'broadcast.failed', detail: LIFECYCLE_EVENT_SCHEMAS['broadcast.failed'].parse(detail) };
}

function broadcastEvents(change: ItemChange): DerivedEvent[] {
  const now = change.newImage;
  if (!now) return [];
  const tenantId = str(now.tenantId);
  const broadcastId = str(now.broadcastId);
  const status = str(now.status);
  if (!tenantId || !broadcastId || !status) return [];
  const before = change.eventName === 'INSERT' ? undefined : str(change.oldImage?.status);
  const name = str(now.name) ?? '';
  const test = now.test === true;
  const campaign = now.campaign as { campaignId?: unknown; scheduledFor?: unknown } | undefined;
  const campaignId = str(campaign?.campaignId);
  const out: DerivedEvent[] = [];
  if (change.eventName === 'INSERT') {
    const createdAt = str(now.createdAt) ?? change.at.toISOString();
    out.push({
      event: {
        type: 'broadcast.created',
        detail: LIFECYCLE_EVENT_SCHEMAS['broadcast.created'].parse({
          eventId: eventIdOf('broadcast.created', tenantId, broadcastId),
          tenantId,
          occurredAt: createdAt,
          broadcastId,
          name,
          status,
          totalRecipients: num(now.totalRecipients),
          skippedCount: num(now.skippedCount),
          ...(str(now.scheduledAt) ? { scheduledAt: str(now.scheduledAt) } : {}),
          test,
          ...(campaignId ? { campaignId } : {}),
        }),
      },
    });
    const scheduledFor = str(campaign?.scheduledFor);
    if (campaignId && scheduledFor)
      out.push({
        event: {
          type: 'campaign.run.started',
          detail: LIFECYCLE_EVENT_SCHEMAS['campaign.run.started'].parse({
            eventId: eventIdOf('campaign.run.started', tenantId, campaignId, scheduledFor),
            tenantId,
            occurredAt: createdAt,
            campaignId,
            scheduledFor,
            broadcastId,
          }),
        },
      });
  }
  if (status === before) return out;
  if (status === 'completed' || status === 'partial' || status === 'failed') {
    const completedAt = str(now.completedAt) ?? change.at.toISOString();
    const type: FinishedType = status === 'failed' ? 'broadcast.failed' : 'broadcast.completed';
    out.push({
      finished: {
        type,
        tenantId,
        broadcastId,
        broadcast: { totalRecipients: num(now.totalRecipients), status },
        detail: {
          eventId: eventIdOf(type, tenantId, broadcastId, completedAt),
          tenantId,
          occurredAt: completedAt,
          broadcastId,
          name,
          status: status as 'completed' | 'partial' | 'failed',
          completedAt,
          totalRecipients: num(now.totalRecipients),
          test,
          ...(campaignId ? { campaignId } : {}),
        },
      },
    });
  }
  if (status === 'paused') {
    const pausedAt = str(now.pausedAt) ?? change.at.toISOString();
    out.push({
      event: {
        type: 'broadcast.paused',
        detail: LIFECYCLE_EVENT_SCHEMAS['broadcast.paused'].parse({
          eventId: eventIdOf('broadcast.paused', tenantId, broadcastId, pausedAt),
          tenantId,
          occurredAt: pausedAt,
          broadcastId,
          name,
          pausedAt,
          pauseReason: str(now.pauseReason) ?? 'admin',
          pausedFrom: str(now.pausedFrom) ?? 'running',
        }),
      },
    });
  }
  const cancelledFrom = CANCELLABLE_BROADCAST_STATUSES.find((s) => s === before);
  if (status === 'cancelled' && cancelledFrom) {
    const cancelledAt = str(now.cancelledAt) ?? change.at.toISOString();
    out.push({
      event: {
        type: 'broadcast.cancelled',
        detail: LIFECYCLE_EVENT_SCHEMAS['broadcast.cancelled'].parse({
          eventId: eventIdOf('broadcast.cancelled', tenantId, broadcastId),
          tenantId,
          occurredAt: cancelledAt,
          broadcastId,
          name,
          cancelledAt,
          cancelledFrom,
          totalRecipients: num(now.totalRecipients),
          test,
          ...(campaignId ? { campaignId } : {}),
        }),
      },
    });
  }
  return out;
}

function importEvents(change: ItemChange): DerivedEvent[] {
  const now = change.newImage;
  const status = str(now?.status);
  if (!now || (status !== 'completed' && status !== 'failed')) return [];
  if (str(change.oldImage?.status) === status) return [];
  const tenantId = str(now.tenantId);
  const importId = str(now.importId);
  if (!tenantId || !importId) return [];
  const completedAt = str(now.completedAt) ?? change.at.toISOString();
  const counts = (now.counts ?? {}) as Record<string, unknown>;
  const failure = now.failure as { code?: unknown; message?: unknown } | undefined;
  return [
    {
      event: {
        type: 'import.completed',
        detail: LIFECYCLE_EVENT_SCHEMAS['import.completed'].parse({
          eventId: eventIdOf('import.completed', tenantId, importId),
          tenantId,
          occurredAt: completedAt,
          importId,
          status,
          completedAt,
          ...(typeof now.totalRows === 'number' ? { totalRows: now.totalRows } : {}),
          processedRows: num(counts.processedRows),
          createdCount: num(counts.createdCount),
          updatedCount: num(counts.updatedCount),
          duplicateCount: num(counts.duplicateCount),
          invalidCount: num(counts.invalidCount),
          ...(status === 'failed' && failure
            ? { failure: { code: str(failure.code) ?? 'internal', message: str(failure.message) ?? '' } }
            : {}),
        }),
      },
    },
  ];
}

function suppressionEvents(change: ItemChange): DerivedEvent[] {
  const tenantId = change.pk.slice('SUPPRESS#'.length);
  const phone = maskPhone(change.sk);
  const optedOut = (image: ItemChange['oldImage']) => OPT_OUT_REASONS.includes(str(image?.reason) ?? '');
  if (change.newImage && optedOut(change.newImage) && !optedOut(change.oldImage)) {
    const at = str(change.newImage.createdAt) ?? change.at.toISOString();
    const reason = str(change.newImage.reason);
    const detail = str(change.newImage.detail);
    return [
      {
        event: {
          type: 'contact.opted_out',
          detail: LIFECYCLE_EVENT_SCHEMAS['contact.opted_out'].parse({
            eventId: eventIdOf('contact.opted_out', tenantId, change.sk, at),
            tenantId,
            occurredAt: at,
            phone,
            reason,
            ...optOutDetail(reason, detail),
          }),
        },
      },
    ];
  }
  if (change.eventName === 'REMOVE' && optedOut(change.oldImage)) {
    const optedOutAt = str(change.oldImage?.createdAt) ?? change.at.toISOString();
    // The stream's time is rounded down to the second: a lift in the opt-out's own second must not
    // read as before it.
    const occurredAt = new Date(Math.max(change.at.getTime(), Date.parse(optedOutAt) || 0)).toISOString();
    return [
      {
        event: {
          type: 'contact.opted_in',
          detail: LIFECYCLE_EVENT_SCHEMAS['contact.opted_in'].parse({
            eventId: eventIdOf('contact.opted_in', tenantId, change.sk, optedOutAt),
            tenantId,
            occurredAt,
            phone,
            optedOutAt,
            optedOutReason: str(change.oldImage?.reason),
          }),
        },
      },
    ];
  }
  return [];
}

/**
 * What an opt-out's item detail says in its event: the word or button payload (`keyword`), or for
 * Twilio's, its error code (`errorCode`; left out when the detail is not one, rather than the event
 * refused).
 */
function optOutDetail(reason: string | undefined, detail: string | undefined) {
  if (detail === undefined) return {};
  if (reason !== 'provider_error') return { keyword: detail };
  const code = Number(detail);
  return /^\d+$/.test(detail) && Number.isSafeInteger(code) && code > 0 ? { errorCode: code } : {};
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
