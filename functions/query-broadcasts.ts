import { adminRoute } from './commons/admin-route.ts';
import { recipientsCsv } from './commons/audience-exports.ts';
import { ownedBroadcast } from './commons/broadcasts.ts';
import { retention } from './commons/config.ts';
import { header, json } from './commons/http.ts';
import { broadcasts, counters, sendLedger } from './commons/wiring.ts';
import { BroadcastListQuery, parseListQuery, RecipientListQuery } from './core/broadcast-request.ts';
import type { RecipientViewShape } from './core/broadcast-responses.ts';
import { canaryView } from './core/canary.ts';
import type { CounterTotals } from './core/count-deltas.ts';
import { progressOf, type StatusCounts } from './core/counts.ts';
import { wantsCsv } from './core/csv-export.ts';
import { ApiError } from './core/errors.ts';
import { followUpCountsOf } from './core/follow-up.ts';
import type { Broadcast, Recipient } from './core/ports.ts';
import { recipientsExpireAt } from './core/retention.ts';
import { errorMessageFor } from './core/send-outcome.ts';
import { WAIT_REASONS } from './core/send-timing.ts';
import { SUCCEEDED, shownRecipientStatus, storedStatusesShownAs } from './core/statuses.ts';
import { settle } from './use-cases/settle-broadcast.ts';

/** The GET routes under /v1/broadcasts, scoped to the caller's tenant. */
export const handler = adminRoute(async (event, tenantId) => {
  const deps = { broadcasts: broadcasts(), counters: counters() };
  switch (event.routeKey) {
    case 'GET /v1/broadcasts': {
      const query = parseListQuery(BroadcastListQuery, event.queryStringParameters);
      const page = await deps.broadcasts.page(tenantId, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.status ? { status: query.status } : {}),
        ...(query.test !== undefined ? { test: query.test } : {}),
      });
      const items = await Promise.all(
        page.items.map(async (b) => {
          const { broadcast, counts, totals } = await current(deps, b);
          return broadcastView(broadcast, counts, totals);
        }),
      );
      return json(200, { items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
    }
    case 'GET /v1/broadcasts/{id}': {
      const { broadcast, counts, totals } = await current(
        deps,
        await ownedBroadcast(deps.broadcasts, tenantId, event),
      );
      return json(200, broadcastView(broadcast, counts, totals));
    }
    case 'GET /v1/broadcasts/{id}/progress': {
      const owned = await ownedBroadcast(deps.broadcasts, tenantId, event);
      const [{ broadcast, counts, totals }, next] = await Promise.all([
        current(deps, owned),
        sendLedger().scheduledRetries(owned.broadcastId, undefined, 1),
      ]);
      // Recipients, not attempts: each failed or undelivered recipient once, under its current code.
      const errorSummary = Object.entries(totals.errors)
        .filter(([, count]) => count > 0)
        .map(([code, count]) => ({ code: Number(code) || code, message: errorMessageFor(code), count }))
        .sort((a, b) => b.count - a.count);
      const succeeded = SUCCEEDED.reduce((sum, s) => sum + counts[s], 0);
      return json(200, {
        broadcastId: broadcast.broadcastId,
        status: broadcast.status,
        totalRecipients: broadcast.totalRecipients,
        counts,
        ...progressOf(counts, broadcast.totalRecipients),
        errorSummary,
        retries: {
          pending: totals.retriesPending,
          ...(next[0] && totals.retriesPending > 0 ? { nextAt: next[0].nextRetryAt } : {}),
        },
        ...(broadcast.followUp ? { followUp: followUpCountsOf(totals.followUp, succeeded) } : {}),
        ...waitingView(broadcast, totals),
        updatedAt: progressChangedAt(broadcast, totals),
      });
    }
    case 'GET /v1/broadcasts/{id}/recipients': {
      const broadcast = await ownedBroadcast(deps.broadcasts, tenantId, event);
      const query = parseListQuery(RecipientListQuery, event.queryStringParameters);
      // Export: the same list as a CSV file (commons/audience-exports.ts).
      if (wantsCsv(query.format, header(event, 'accept')))
        return recipientsCsv(event, broadcast, query, recipientView);
      const page = await sendLedger().page(broadcast, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.status ? { statuses: storedStatusesShownAs(query.status, broadcast.status) } : {}),
      });
      // Retention (core/retention.ts): past this, the list is empty but the broadcast and its counts stay.
      const expireAt = recipientsExpireAt(broadcast, retention().recipientDays);
      return json(200, {
        items: page.items.map((r) => recipientView(r, broadcast)),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        recipientsExpireAt: expireAt.toISOString(),
        ...(expireAt.getTime() <= Date.now() ? { recipientsExpired: true } : {}),
      });
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});

/**
 * The broadcast with its counts; a status behind its counts (the aggregator's settle not landed yet)
 * is brought in line here, so what the API shows is always consistent.
 */
function current(deps: Parameters<typeof settle>[0], broadcast: Broadcast) {
  return settle(deps, broadcast, new Date());
}

/**
 * When what the progress shows last changed: its counts (the aggregator's or the recount's last
 * update, `changedAt`), or the broadcast's own latest status time (created, started, paused,
 * resumed, cancelled, completed). Two polls with nothing new between them say the same time.
 */
function progressChangedAt(b: Broadcast, totals: CounterTotals): string {
  const times = [b.startedAt, b.pausedAt, b.resumedAt, b.cancelledAt, b.completedAt, totals.changedAt];
  return times.reduce<string>((latest, time) => (time && time > latest ? time : latest), b.createdAt);
}

/** The audience as asked; its listed phones as a count (the recipients route lists everyone). */
function audienceView(audience: NonNullable<Broadcast['audience']>) {
  return {
    ...(audience.groupIds ? { groupIds: [...audience.groupIds] } : {}),
    ...(audience.tags ? { tags: [...audience.tags] } : {}),
    ...(audience.phonesCount !== undefined ? { phonesCount: audience.phonesCount } : {}),
  };
}

/**
 * Recipients that wait (quiet hours, the messaging limit), live from the counters: `until` is the
 * latest release time planned at create (one held at send time waits until its own quiet hours end).
 * Shown for a broadcast that had or has waiting recipients; none while it is cancelled (they never go).
 */
function waitingView(b: Broadcast, totals: CounterTotals) {
  const byReason = Object.fromEntries(WAIT_REASONS.map((r) => [r, Math.max(0, totals.waiting[r] ?? 0)]));
  const count = b.status === 'cancelled' ? 0 : Object.values(byReason).reduce((sum, n) => sum + n, 0);
  if (count === 0 && !b.waitingAtCreate && !b.quietHours) return {};
  return {
    waiting: {
      count,
      byReason: b.status === 'cancelled' ? { quiet_hours: 0, messaging_limit: 0 } : byReason,
      ...(count > 0 && b.waitingUntil ? { until: b.waitingUntil } : {}),
    },
    ...(b.estimatedFinishAt ? { estimatedFinishAt: b.estimatedFinishAt } : {}),
  };
}

function broadcastView(b: Broadcast, counts: StatusCounts, totals?: CounterTotals) {
  return {
    broadcastId: b.broadcastId,
    name: b.name,
    status: b.status,
    createdAt: b.createdAt,
    ...optional(b, [
      'scheduledAt',
      'startedAt',
      'completedAt',
      'cancelledAt',
      'pausedAt',
      'pauseReason',
      'followUp',
      'campaign',
    ]),
    ...(b.audience ? { audience: audienceView(b.audience) } : {}),
    ...(b.test ? { test: true as const } : {}),
    ...(b.canary ? { canary: canaryView(b.canary, counts) } : {}),
    template: b.template,
    sender: senderView(b.sender),
    totalRecipients: b.totalRecipients,
    counts,
    progressPct: progressOf(counts, b.totalRecipients).progressPct,
    ...optional(b, ['quietHours', 'frequencyCap']),
    ...(totals ? waitingView(b, totals) : {}),
  };
}

/** The sender snapshot taken at create; none: the deployment's sender. */
function senderView(sender: Broadcast['sender']) {
  if (!sender) return { source: 'deployment' as const };
  return {
    source: 'tenant' as const,
    ...optional(sender, ['from', 'messagingServiceSid', 'accountSid']),
    ...(sender.mps ? { senderMps: sender.mps } : {}),
  };
}

function recipientView(r: Recipient, broadcast: Broadcast): RecipientViewShape {
  const status = shownRecipientStatus(r.status, broadcast.status);
  return {
    phone: r.phone,
    status,
    // Skipped at create for a reason of its own, or (at create or at send) because suppressed.
    ...(status === 'skipped' ? { skipReason: r.skipReason ?? 'suppressed' } : {}),
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
      'erasedAt',
      'nextRetryAt',
      'waitReason',
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
