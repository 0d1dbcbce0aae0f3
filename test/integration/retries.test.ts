import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { broadcastKey } from '../../functions/adapters/table-layout.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

const KEY = 'key-retries-0123456789';
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;

let api: ApiTwin;
/** While set, the stream aggregator's batches wait for it: counts that trail the ledger, as under load. */
let countsHeld: Promise<void> | undefined;
/** While set, the retry job's runs wait for it: a retry that has fallen due and not yet gone out. */
let retriesHeld: Promise<void> | undefined;
/** When each run of the retry job held by `retriesHeld` began (epoch ms). */
const heldRetryRuns: number[] = [];

beforeAll(async () => {
  api = await startApiTwin(
    {
      LOCAL_API_KEYS: `acme:${KEY}`,
      SIM_MPS: '1000',
      RETRY_BACKOFF_SECONDS: '1,1,1',
      RETRY_SCHEDULE_SECONDS: '1',
    },
    {
      instrument: {
        wrapInvoke: (name, invoke) =>
          name === 'aggregateCounts' || name === 'retryFailed'
            ? async (event) => {
                if (name === 'retryFailed' && retriesHeld) heldRetryRuns.push(Date.now());
                await (name === 'aggregateCounts' ? countsHeld : retriesHeld);
                return invoke(event);
              }
            : invoke,
      },
    },
  );
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

const call = (method: string, route: string, body?: unknown) =>
  api.call(method, route, { key: KEY, ...(body ? { body } : {}) });
const phone = testPhone;
const sentTo = (to: string) => api.messagesTo(to);
const until = (id: string, check: (b: Json) => boolean, message: string, timeoutMs = 60_000) =>
  api.untilBroadcast(id, KEY, check, { timeoutMs, message });

async function create(recipients: string[]) {
  const created = await call('POST', '/v1/broadcasts', { template: { contentSid: CONTENT_SID }, recipients });
  expect(created.status).toBe(202);
  return created.body.broadcastId as string;
}

async function recipient(id: string, to: string) {
  const { body } = await call('GET', `/v1/broadcasts/${id}/recipients?limit=500`);
  return body.items.find((r: Json) => r.phone === to) as Json;
}

describe('retries through backoff windows (RETRY_BACKOFF_SECONDS=1,1,1)', () => {
  it('retries a transient failure up to 1 + windows attempts, never a permanent one, and sends the rest once', async () => {
    const unreachable = phone('0001'); // undelivered 30003: transient
    const notOnWhatsApp = phone('0002'); // failed 63024: permanent
    const rateLimited = phone('0005'); // 429 first, accepted after
    const ambiguous = phone('0004'); // 500 after Twilio created it
    const id = await create([unreachable, notOnWhatsApp, rateLimited, ambiguous]);

    // Between a retry's `sent` and its `undelivered`, the broadcast may look final for a moment and
    // reopen when the failure schedules the next retry; the stable end is the last attempt failing.
    const r = await waitFor(
      async () => {
        const current = await recipient(id, unreachable);
        return current?.attempts === 4 && current.status === 'undelivered' ? current : undefined;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 250,
        message: 'the transient failure was not retried to its 4th attempt',
      },
    );
    expect(r).toMatchObject({ status: 'undelivered', attempts: 4, errorCode: 30003 });
    const done = await until(id, (b) => b.status === 'partial', 'did not end partial');
    expect(r.nextRetryAt).toBeUndefined();
    expect(sentTo(unreachable)).toBe(4);
    expect(sentTo(notOnWhatsApp)).toBe(1);
    expect((await recipient(id, notOnWhatsApp)).attempts).toBe(1);
    expect(sentTo(rateLimited)).toBe(1);
    expect(sentTo(ambiguous)).toBe(1);
    expect((await recipient(id, ambiguous)).status).toMatch(/delivered|read/);
    expect(Object.values(done.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(4);
  }, 120_000);

  it('shows nextRetryAt while a retry waits, and the broadcast is not final meanwhile', async () => {
    // The retry job is held while the test looks: with 1-second windows the wait is otherwise over
    // before the counts (the aggregator's 2 s batches) show the failure, on a busy machine every time.
    let release = () => {};
    retriesHeld = new Promise((resolve) => {
      release = resolve;
    });
    try {
      const unreachable = phone('0001');
      const id = await create([unreachable]);
      // The aggregator writes the counts, then settles the broadcast (a first `sent` may have completed
      // it; the failure reopens it): the first read past both shows the failure on a running broadcast.
      await until(
        id,
        (b) => b.counts.undelivered === 1 && b.status === 'running',
        'the broadcast was not shown running while its retry waited',
      );
      const waiting = await recipient(id, unreachable);
      expect(waiting).toMatchObject({ status: 'undelivered', attempts: 1 });
      expect(Date.parse(waiting.nextRetryAt)).toBeGreaterThanOrEqual(Date.parse(waiting.updatedAt));
      // Due, and the job that would send it came for it and is held: still waiting, so still open.
      await waitFor(() => heldRetryRuns.some((at) => at > Date.parse(waiting.nextRetryAt)), {
        timeoutMs: 10_000,
        message: 'no run of the retry job came after the retry fell due',
      });
      expect((await call('GET', `/v1/broadcasts/${id}`)).body.status).toBe('running');
      expect(sentTo(unreachable)).toBe(1);

      release();
      await until(id, (b) => b.status === 'failed', 'did not end failed', 90_000);
      expect(sentTo(unreachable)).toBe(4);
    } finally {
      release();
      retriesHeld = undefined;
    }
  }, 120_000);

  it('a manual retry re-queues only retryable failures, within the same attempt budget as the retry job', async () => {
    const unreachable = phone('0001');
    const notOnWhatsApp = phone('0002');
    const invalidTo = phone('0003'); // 400 21211 at create: permanent
    const id = await create([unreachable, notOnWhatsApp, invalidTo]);
    await until(id, (b) => b.status === 'failed', 'did not end failed', 90_000);
    expect(sentTo(unreachable)).toBe(4);

    // Its four attempts (1 + three windows) are spent: a manual retry may not add a fifth.
    const retried = await call('POST', `/v1/broadcasts/${id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({
      broadcastId: id,
      retriedCount: 0,
      notRetried: { permanent: 2, attemptsExhausted: 1 },
    });
    await api.untilQueueDrained('send');
    expect(sentTo(unreachable)).toBe(4);
    expect(sentTo(notOnWhatsApp)).toBe(1);
    expect(sentTo(invalidTo)).toBe(0);
  }, 180_000);

  it('ten clicks on retry send no more than the attempt budget, and a recipient already re-queued is not re-queued again', async () => {
    const unreachable = phone('0001');
    const id = await create([unreachable]);
    await waitFor(() => sentTo(unreachable) >= 1, { timeoutMs: 30_000, message: 'nothing was sent' });
    const answers = [];
    for (let click = 0; click < 10; click++) answers.push(await call('POST', `/v1/broadcasts/${id}/retry`));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    await until(id, (b) => b.status === 'failed', 'did not end failed', 90_000);
    await api.untilQueueDrained('send');
    expect(sentTo(unreachable)).toBe(4);
    const [recipient] = (await call('GET', `/v1/broadcasts/${id}/recipients`)).body.items;
    expect(recipient).toMatchObject({ status: 'undelivered', attempts: 4, errorCode: 30003 });
    // One recipient undelivered four times is one recipient in the error summary.
    const progress = await api.progress(id, KEY);
    expect(progress.errorSummary).toEqual([{ code: 30003, message: expect.any(String), count: 1 }]);
  }, 180_000);
});

describe('a manual retry after the recipient list expired', () => {
  it('is refused (409 INVALID_STATE, saying why and what to do), and nothing is re-queued', async () => {
    const unreachable = phone('0001');
    const id = await create([unreachable]);
    await until(id, (b) => b.status === 'failed', 'did not end failed', 90_000);
    // Started 31 days ago: its stored list (the template values a retry sends) is gone by now.
    const client = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: api.twin.dynamodbEndpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      }),
    );
    try {
      await client.send(
        new UpdateCommand({
          TableName: api.twin.tableNames.main,
          Key: broadcastKey('acme', id),
          UpdateExpression: 'SET createdAt = :old',
          ExpressionAttributeValues: { ':old': new Date(Date.now() - 31 * 86_400_000).toISOString() },
        }),
      );
    } finally {
      client.destroy();
    }
    const before = await recipient(id, unreachable);
    const refused = await call('POST', `/v1/broadcasts/${id}/retry`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringMatching(/more than 30 days ago.*Create a new broadcast/),
    });
    expect(await recipient(id, unreachable)).toEqual(before);
    expect((await call('GET', `/v1/broadcasts/${id}`)).body.status).toBe('failed');
  }, 120_000);
});

describe('pause', () => {
  it('a retry that falls due while the broadcast is paused waits, and goes out after the resume', async () => {
    const unreachable = phone('0001'); // undelivered 30003, retried after 1 s
    const id = await create([unreachable]);
    // Paused as soon as the first attempt reached the simulator (in-process, no request): its
    // undelivered callback and 1 s backoff come after, so the retries fall due while it is paused.
    // (Pausing after reading nextRetryAt over the API could, on a busy machine, come after all three.)
    await waitFor(() => (sentTo(unreachable) >= 1 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 10,
      message: 'the first attempt was not sent',
    });
    expect((await call('POST', `/v1/broadcasts/${id}/pause`)).status).toBe(200);
    const failed = await waitFor(
      async () => {
        const r = await recipient(id, unreachable);
        return r?.nextRetryAt ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, message: 'no retry was scheduled' },
    );
    const sentAtPause = sentTo(unreachable);
    // Three runs of the retry job (every second) past the retry's time: it still waits.
    const due = Date.parse(failed.nextRetryAt);
    await waitFor(() => (Date.now() > due + 3_000 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: 'the retry did not fall due',
    });
    await api.untilQueueDrained();
    expect(sentTo(unreachable)).toBe(sentAtPause);
    expect((await call('GET', `/v1/broadcasts/${id}`)).body.status).toBe('paused');

    expect((await call('POST', `/v1/broadcasts/${id}/resume`)).status).toBe(200);
    const done = await until(id, (b) => b.status === 'failed', 'did not end failed after the resume', 90_000);
    expect(done.counts.undelivered).toBe(1);
    expect(sentTo(unreachable)).toBe(4); // the first attempt and its three retries, each once
  }, 120_000);
});

describe('cancel', () => {
  it('stops sending within seconds, keeps the counts adding up, and refuses a second cancel', async () => {
    const recipients = Array.from({ length: 400 }, () => phone());
    const id = await create(recipients);
    await waitFor(() => recipients.some((to) => sentTo(to) > 0), {
      timeoutMs: 30_000,
      message: 'nothing was sent',
    });

    const cancelled = await call('POST', `/v1/broadcasts/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ broadcastId: id, status: 'cancelled' });
    expect(cancelled.body.cancelledCount).toBeGreaterThan(0);

    // Sends in flight at the moment of the cancel may still land; after a few seconds nothing more does.
    const total = () => recipients.reduce((n, to) => n + sentTo(to), 0);
    await waitFor(
      async () => {
        const before = total();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return total() === before;
      },
      { timeoutMs: 15_000, message: 'sends went on after the cancel' },
    );
    // The counts trail the ledger (the aggregator's batches): wait until they show what Twilio was sent.
    const reached = recipients.filter((to) => sentTo(to) > 0).length;
    const settled = await until(
      id,
      (b) =>
        b.counts.pending + b.counts.queued + b.counts.sending === 0 && b.counts.cancelled === 400 - reached,
      `the counts did not come to the ${reached} recipients Twilio was sent`,
    );
    expect(settled.status).toBe('cancelled');
    expect(settled.cancelledAt).toBeDefined();
    expect(settled.counts.cancelled).toBeGreaterThan(0);
    // The cancel's answer waited for the sends under way: its count is the one the broadcast ends with.
    expect(cancelled.body.cancelledCount).toBe(settled.counts.cancelled);
    expect(Object.values(settled.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(400);
    expect(recipients.filter((to) => sentTo(to) > 0).length).toBe(400 - settled.counts.cancelled);
    expect(recipients.every((to) => sentTo(to) <= 1)).toBe(true);

    const again = await call('POST', `/v1/broadcasts/${id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVALID_STATE');
  }, 120_000);

  it('answers the count the broadcast ends with while the counts still trail the ledger', async () => {
    let release = () => {};
    countsHeld = new Promise((resolve) => {
      release = resolve;
    });
    try {
      const recipients = Array.from({ length: 200 }, () => phone());
      const id = await create(recipients);
      await waitFor(() => (recipients.filter((to) => sentTo(to) > 0).length >= 20 ? true : undefined), {
        timeoutMs: 30_000,
        message: 'nothing was sent',
      });
      // The counts have not moved from queued: had the cancel read them, it would count everyone.
      expect((await call('GET', `/v1/broadcasts/${id}`)).body.counts.sending).toBe(0);

      const cancelled = await call('POST', `/v1/broadcasts/${id}/cancel`);
      expect(cancelled.status).toBe(200);
      // The sends under way when the cancel came settled before its answer.
      const reached = recipients.filter((to) => sentTo(to) > 0).length;
      expect(cancelled.body.cancelledCount).toBe(200 - reached);

      release();
      const settled = await until(
        id,
        (b) =>
          b.counts.pending + b.counts.queued + b.counts.sending === 0 && b.counts.cancelled === 200 - reached,
        `the counts did not come to the cancel's ${200 - reached}`,
      );
      expect(settled.status).toBe('cancelled');
      expect(recipients.filter((to) => sentTo(to) > 0).length).toBe(reached);

      // The list shows claims released unsent as cancelled, and its status filter finds them so.
      const listed = async (filter: string) =>
        (await call('GET', `/v1/broadcasts/${id}/recipients?limit=500${filter}`)).body.items as Json[];
      const shownCancelled = (await listed('')).filter((r) => r.status === 'cancelled');
      expect(await listed('&status=cancelled')).toEqual(shownCancelled);
      expect(await listed('&status=queued')).toEqual([]);
    } finally {
      release();
      countsHeld = undefined;
    }
  }, 120_000);
});
