import { adminRoute } from './commons/admin-route.ts';
import { ownedBroadcast } from './commons/broadcasts.ts';
import { json } from './commons/http.ts';
import { broadcastStore } from './commons/wiring.ts';
import { BroadcastListQuery, parseListQuery, RecipientListQuery } from './core/broadcast-request.ts';
import { progressOf, type StatusCounts } from './core/counts.ts';
import { ApiError } from './core/errors.ts';
import type { Broadcast, BroadcastStore, Recipient } from './core/ports.ts';
import { errorMessageFor } from './core/send-outcome.ts';
import { finalBroadcastStatus } from './core/statuses.ts';

/** The GET routes under /v1/broadcasts, scoped to the caller's tenant. */
export const handler = adminRoute(async (event, tenantId) => {
  const store = broadcastStore();
  switch (event.routeKey) {
    case 'GET /v1/broadcasts': {
      const query = parseListQuery(BroadcastListQuery, event.queryStringParameters);
      const page = await store.listBroadcasts(tenantId, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.status ? { status: query.status } : {}),
      });
      const items = await Promise.all(
        page.items.map(async (b) => {
          const { broadcast, counts } = await current(store, b);
          return broadcastView(broadcast, counts);
        }),
      );
      return json(200, { items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
    }
    case 'GET /v1/broadcasts/{id}': {
      const { broadcast, counts } = await current(store, await ownedBroadcast(store, tenantId, event));
      return json(200, broadcastView(broadcast, counts));
    }
    case 'GET /v1/broadcasts/{id}/progress': {
      const { broadcast, counts, errors, followUps } = await current(
        store,
        await ownedBroadcast(store, tenantId, event),
      );
      const errorSummary = Object.entries(errors)
        .filter(([, count]) => count > 0)
        .map(([code, count]) => ({ code: Number(code), message: errorMessageFor(code), count }))
        .sort((a, b) => b.count - a.count);
      return json(200, {
        broadcastId: broadcast.broadcastId,
        status: broadcast.status,
        totalRecipients: broadcast.totalRecipients,
        counts,
        ...progressOf(counts, broadcast.totalRecipients),
        errorSummary,
        ...(followUps ? { followUp: followUps } : {}),
        updatedAt: new Date().toISOString(),
      });
    }
    case 'GET /v1/broadcasts/{id}/recipients': {
      const broadcast = await ownedBroadcast(store, tenantId, event);
      const query = parseListQuery(RecipientListQuery, event.queryStringParameters);
      const page = await store.listRecipients(broadcast, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.status ? { status: query.status } : {}),
      });
      return json(200, {
        items: page.items.map(recipientView),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});

/**
 * The broadcast with its counts; when the counts show it has ended but its status does not say
 * so yet (the last callback's own check lost a race), it is finalized here.
 */
async function current(store: BroadcastStore, broadcast: Broadcast) {
  const { counts, errors, followUps } = await store.getCounts(broadcast);
  if (
    (broadcast.status === 'queued' || broadcast.status === 'running') &&
    finalBroadcastStatus(counts, { retryPending: false })
  ) {
    await store.finalizeIfDone(broadcast, new Date());
    const refreshed = await store.getBroadcast(broadcast.tenantId, broadcast.broadcastId);
    if (refreshed) return { broadcast: refreshed, counts, errors, followUps };
  }
  return { broadcast, counts, errors, followUps };
}

function broadcastView(b: Broadcast, counts: StatusCounts) {
  return {
    broadcastId: b.broadcastId,
    name: b.name,
    status: b.status,
    createdAt: b.createdAt,
    ...optional(b, ['scheduledAt', 'startedAt', 'completedAt', 'cancelledAt', 'followUp']),
    template: b.template,
    totalRecipients: b.totalRecipients,
    counts,
    progressPct: progressOf(counts, b.totalRecipients).progressPct,
  };
}

function recipientView(r: Recipient) {
  return {
    phone: r.phone,
    status: r.status,
    attempts: r.attempts,
    ...optional(r, [
      'messageSid',
      'errorCode',
      'errorMessage',
      'queuedAt',
      'sentAt',
      'deliveredAt',
      'readAt',
      'confirmedAt',
      'nextRetryAt',
    ]),
    ...(r.followUp
      ? {
          followUp: {
            status: r.followUp.status,
            ...optional(r.followUp, [
              'messageSid',
              'errorCode',
              'errorMessage',
              'sentAt',
              'deliveredAt',
              'readAt',
            ]),
          },
        }
      : {}),
    updatedAt: r.updatedAt,
  };
}

function optional<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (value[key] !== undefined) picked[key] = value[key];
  return picked;
}
