import type { SQSClient } from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import { deadLetterDepth } from './adapters/dead-letters.ts';
import { adminRoute } from './commons/admin-route.ts';
import { optionalEnv } from './commons/config.ts';
import { json } from './commons/http.ts';
import { logger } from './commons/powertools.ts';
import { broadcasts, counters, sqs } from './commons/wiring.ts';
import { ApiError } from './core/errors.ts';
import type { BroadcastCounters, Broadcasts } from './core/ports.ts';
import { IN_FLIGHT } from './core/statuses.ts';
import { stateOf } from './use-cases/settle-broadcast.ts';

/** The window of `sentLast5m` and `failedLast5m`. */
const RECENT_MINUTES = 5;
/** getCounts calls in flight at once (each sums the broadcast's counter shards). */
const COUNTS_CONCURRENCY = 8;
/** The dead-letter queues of the send and fan-out queues (lib/topology.ts: `deadLetterQueues`). */
const DEAD_LETTER_ENV_VARS = ['SEND_DLQ_URL', 'FAN_OUT_DLQ_URL'] as const;

export interface Metrics {
  /** Recipients of the tenant's active broadcasts still pending, queued or sending. */
  pendingCount: number;
  /**
   * Sends of the tenant that reached `sent` (or beyond) in the last 5 minutes: each attempt counts, so
   * a recipient retried and sent twice counts twice. At most once per stream batch: a batch retried
   * after its activity write may leave a minute short, never over.
   */
  sentLast5m: number;
  /** Sends of the tenant that became `failed` or `undelivered` in the last 5 minutes (each attempt counts). */
  failedLast5m: number;
  /** The tenant's broadcasts that are not final yet (a cancelled one is final, even while its last sends settle). */
  activeBroadcasts: number;
  /**
   * Extension: messages waiting in the send and fan-out dead-letter queues. Deployment-wide,
   * NOT per tenant (the queues are shared by every tenant); absent when this function is not
   * given the dead-letter queue URLs, or when SQS could not be asked.
   */
  deadLetterCount?: number;
}

/**
 * GET /v1/metrics: the caller's tenant at a glance. Reads the tenant's active broadcasts (an index
 * query), their counters and the per-minute activity counters: never the recipients themselves.
 */
export const handler = adminRoute(async (event, tenantId) => {
  if (event.routeKey !== 'GET /v1/metrics') throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  const metrics = await tenantMetrics(
    { broadcasts: broadcasts(), counters: counters() },
    tenantId,
    new Date(),
    {
      sqs,
      deadLetterUrls: deadLetterUrlsFromEnv(),
    },
  );
  return json(200, metrics);
});

export function deadLetterUrlsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  return DEAD_LETTER_ENV_VARS.map((name) => optionalEnv(name, env)).filter((url): url is string => !!url);
}

export async function tenantMetrics(
  store: { broadcasts: Broadcasts; counters: BroadcastCounters },
  tenantId: string,
  now: Date,
  deadLetters: { sqs: () => SQSClient; deadLetterUrls: readonly string[] },
): Promise<Metrics> {
  const [inFlight, recent, deadLetterCount] = await Promise.all([
    activeWork(store, tenantId),
    store.counters.recentActivity(tenantId, now, RECENT_MINUTES),
    deadLetterTotal(deadLetters.sqs, deadLetters.deadLetterUrls),
  ]);
  return {
    pendingCount: inFlight.pendingCount,
    sentLast5m: recent.sent,
    failedLast5m: recent.failed,
    activeBroadcasts: inFlight.activeBroadcasts,
    ...(deadLetterCount !== undefined ? { deadLetterCount } : {}),
  };
}

async function activeWork(store: { broadcasts: Broadcasts; counters: BroadcastCounters }, tenantId: string) {
  // Test sends are not the tenant's traffic (POST /v1/broadcasts/test-send).
  const active = (await store.broadcasts.active(tenantId)).filter((b) => b.status !== 'cancelled' && !b.test);
  const perBroadcast = await pLimit(COUNTS_CONCURRENCY).map(active, async (broadcast) => {
    const { counts, totals } = await stateOf(store, broadcast);
    const pending = IN_FLIGHT.reduce((sum, status) => sum + (counts[status] ?? 0), 0);
    // Its counts say it has ended but the status write has not landed yet: not active any more, as
    // the broadcast's own GET would show it.
    return { pending, active: pending > 0 || totals.retriesPending > 0 || broadcast.status === 'scheduled' };
  });
  return {
    pendingCount: perBroadcast.reduce((sum, b) => sum + b.pending, 0),
    activeBroadcasts: perBroadcast.filter((b) => b.active).length,
  };
}

/** The dead letters, or undefined without URLs or when SQS fails (the tenant's numbers still answer). */
async function deadLetterTotal(
  client: () => SQSClient,
  urls: readonly string[],
): Promise<number | undefined> {
  if (urls.length === 0) return undefined;
  try {
    return await deadLetterDepth(client(), urls);
  } catch (error) {
    logger.error('dead-letter queue depth unavailable', { error: error as Error });
    return undefined;
  }
}
