import type { Message } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqsTaskQueue } from '../functions/adapters/sqs-queues.ts';
import { shardCountsKey } from '../functions/adapters/table-layout.ts';
import { TwilioMessenger } from '../functions/adapters/twilio-messenger.ts';
import { RECOUNT_QUIET_SECONDS } from '../functions/core/count-deltas.ts';
import type { Broadcast, FanOutTask, RecipientKey, SendTask } from '../functions/core/ports.ts';
import { capturingMetrics } from '../functions/core/service-metrics.ts';
import { releaseChunk } from '../functions/use-cases/broadcast-release.ts';
import { createSendConsumer, statusCallbackUrl } from '../functions/use-cases/send-task.ts';
import { countsSignature, createSweeper, type SweepDeps } from '../functions/use-cases/sweep.ts';
import { SAMPLE_TEMPLATES } from '../lib/local/twilio-simulator.ts';
import { waitFor } from '../lib/local/wait-for.ts';
import { capturingLogger, storeBroadcast } from './support/broadcasts.ts';
import { untilCountsMatchLedger } from './support/counts-stream.ts';
import { ACCOUNT_SID, type SendRig, startSendRig } from './support/send-rig.ts';
import { sqsEvent, startTestQueues, type TestQueues } from './support/sqs.ts';

/**
 * The sweeper (functions/use-cases/sweep.ts) with the real adapters, fauxqs queues, the simulator and
 * the counts aggregator: it brings back what no queue brings back (a send task lost for good, a claim
 * whose invocation died, callbacks that never came, a chunk never fanned out) without ever sending a
 * second message. Only its clock runs ahead.
 */
const TENANT = 'tenant-sweep';
const CONTENT_SID = SAMPLE_TEMPLATES.subsidyReminder.contentSid;
const MINUTE = 60_000;
const STALE_SECONDS = 30;

const { logger, logs } = capturingLogger();
let rig: SendRig;
let queues: TestQueues;
let sendQueueUrl = '';
let fanOutQueueUrl = '';
let send: ReturnType<typeof createSendConsumer>;
/** Broadcasts of the running test: cancelled after it, so the next test's sweeps leave them alone. */
const made: Broadcast[] = [];

beforeAll(async () => {
  [rig, queues] = await Promise.all([
    startSendRig({ tenantId: TENANT, contentSid: CONTENT_SID, logger, backoffSeconds: [300] }),
    startTestQueues(),
  ]);
  [sendQueueUrl, fanOutQueueUrl] = await Promise.all([
    queues.queue('sweep-send').then((q) => q.main.url),
    queues.queue('sweep-fan-out').then((q) => q.main.url),
  ]);
  send = createSendConsumer({
    broadcasts: rig.broadcasts,
    ledger: rig.ledger,
    followUps: rig.followUps,
    contacts: rig.contacts,
    messageIndex: rig.messageIndex,
    messenger: async () => rig.messenger,
    requeue: async () => {},
    statusCallbackBase: () => rig.callbackBase,
    backoffSeconds: [300],
    logger,
  });
}, 90_000);

afterEach(async () => {
  for (const b of made.splice(0)) await rig.broadcasts.cancel(b.tenantId, b.broadcastId, new Date());
});

afterAll(async () => {
  await queues?.stop();
  await rig?.stop();
});

/** The real sweeper; only its clock and durations vary. */
function sweeper(options: Partial<SweepDeps> = {}) {
  return createSweeper({
    broadcasts: rig.broadcasts,
    counters: rig.counters,
    ledger: rig.ledger,
    followUps: rig.followUps,
    contacts: rig.contacts,
    messenger: async () => rig.messenger,
    sendQueue: new SqsTaskQueue<SendTask>(queues.client, sendQueueUrl),
    fanOutQueue: new SqsTaskQueue<FanOutTask>(queues.client, fanOutQueueUrl),
    staleSeconds: STALE_SECONDS,
    backoffSeconds: [300],
    logger,
    ...options,
  });
}

/** A clock `offsetMs` ahead of the real one. */
const ahead = (offsetMs: number) => () => new Date(Date.now() + offsetMs);
/** Sweeps twice: the first notes the counts, the second (its clock past the stall time) acts. */
async function sweepStalled(offsetMs = (STALE_SECONDS + 1) * 1000) {
  await sweeper()();
  return sweeper({ now: ahead(offsetMs) })();
}

async function stored(lastFours: string[], options: Parameters<SendRig['store']>[1] = {}) {
  const result = await rig.store(lastFours, options);
  made.push(result.broadcast);
  return result;
}

/** The send tasks on the queue for this broadcast (received and deleted; others' are dropped). */
async function tasksOn(broadcast: Broadcast): Promise<{ task: SendTask; message: Message }[]> {
  return (await queues.drain(sendQueueUrl))
    .map((message) => ({ task: JSON.parse(message.Body ?? 'null') as SendTask, message }))
    .filter(({ task }) => task.broadcastId === broadcast.broadcastId);
}

const deliver = (messages: readonly Message[]) => send(sqsEvent(messages));

/** A claim made `minutesAgo` whose lease ran out a minute later: its send invocation died. */
async function crashedClaim(task: SendTask, minutesAgo = 10) {
  const at = new Date(Date.now() - minutesAgo * MINUTE);
  expect((await rig.ledger.claim(task, at, new Date(at.getTime() + MINUTE))).claimed).toBe(true);
}

/** The dead invocation's call to Twilio (through the real SDK); waits until the message is `status`. */
async function sentByTheDead(task: SendTask, status: string): Promise<string> {
  const result = await rig.messenger.sendTemplate({
    to: task.phone,
    contentSid: CONTENT_SID,
    contentVariables: task.variables ?? {},
    statusCallback: statusCallbackUrl(rig.callbackBase, task),
  });
  if (result.kind !== 'accepted') throw new Error(`send failed: ${JSON.stringify(result)}`);
  await waitFor(() => rig.sentTo(task.phone).some((m) => m.sid === result.sid && m.status === status), {
    message: `the simulator's message never reached ${status}`,
  });
  return result.sid;
}

const first = <T>(list: readonly T[]): T => {
  if (list[0] === undefined) throw new Error('empty');
  return list[0];
};

describe('sweeper against DynamoDB Local, fauxqs and the Twilio simulator', { timeout: 30_000 }, () => {
  it('a send task lost for good (its recipient never written): sent again once the broadcast stalls, once', async () => {
    const { broadcast, keys, phones, tasks } = await stored(['1234']); // its task never reached a queue
    const [key, phone, task] = [first(keys), first(phones), first(tasks)];
    await sweeper()();
    await sweeper()(); // counts unchanged, but not for long enough yet
    expect(await tasksOn(broadcast)).toEqual([]);

    const stale = sweeper({ now: ahead((STALE_SECONDS + 1) * 1000) });
    expect((await stale()).requeued).toBe(1);
    expect((await stale()).requeued).toBe(1); // still stalled: enqueued again, harmlessly
    const again = await tasksOn(broadcast);
    // The task as the fan-out made it: what to send comes from the stored chunk.
    expect(again.map((t) => t.task)).toEqual([
      { ...task, queuedAt: expect.any(String) },
      { ...task, queuedAt: expect.any(String) },
    ]);
    expect(await rig.ledger.get(key)).toBeUndefined();

    expect((await deliver(again.map((t) => t.message))).batchItemFailures).toEqual([]);
    expect(rig.sentTo(phone)).toHaveLength(1);
    await rig.untilBroadcast(broadcast, 'completed');
    expect(rig.sentTo(phone)).toHaveLength(1);
  });

  it('a claim past its lease with no message at Twilio: released and sent once; its lost callbacks are made up from Twilio', async () => {
    const { broadcast, keys, phones, tasks } = await stored(['2345']);
    const [key, phone, task] = [first(keys), first(phones), first(tasks)];
    rig.loseCallbacksOf(broadcast.broadcastId);
    await crashedClaim(task);
    await untilCountsMatchLedger(rig, broadcast);
    expect((await sweepStalled()).requeued).toBe(1);

    const released = await rig.recipient(key);
    expect(released).toMatchObject({ status: 'queued', attempts: 1 });
    expect(released.claimedAt).toBeUndefined();
    const again = await tasksOn(broadcast);
    expect(again.map((t) => t.task)).toEqual([{ ...task, queuedAt: expect.any(String) }]);
    expect(rig.sentTo(phone)).toHaveLength(0);

    // Delivered twice (at least once): one message.
    await deliver(again.map((t) => t.message));
    await deliver(again.map((t) => t.message));
    expect(rig.sentTo(phone)).toHaveLength(1);
    expect((await rig.recipient(key)).status).toBe('sending');
    // No callback comes; Twilio's message is read. With the new lease over, the sweeper asks Twilio.
    await waitFor(() => rig.sentTo(phone)[0]?.status === 'read', { message: 'Twilio never read it' });
    await untilCountsMatchLedger(rig, broadcast);
    const summary = await sweepStalled(10 * MINUTE);
    expect(summary.adopted).toBe(1);
    expect(await rig.recipient(key)).toMatchObject({ status: 'read', messageSid: rig.sentTo(phone)[0]?.sid });
    expect(rig.sentTo(phone)).toHaveLength(1);
    expect(await tasksOn(broadcast)).toEqual([]);
    await rig.untilBroadcast(broadcast, 'completed');
  });

  it('a claim past its lease whose message Twilio did take: adopted, nothing sent again', async () => {
    const { broadcast, keys, phones, tasks } = await stored(['3456']);
    const [key, phone, task] = [first(keys), first(phones), first(tasks)];
    rig.loseCallbacksOf(broadcast.broadcastId);
    await crashedClaim(task, 3);
    // The invocation made the call and died before anything recorded the SID; the callbacks were lost.
    const sid = await sentByTheDead(task, 'read');
    await untilCountsMatchLedger(rig, broadcast);
    expect((await sweepStalled()).adopted).toBe(1);

    const adopted = await rig.recipient(key);
    expect(adopted).toMatchObject({ status: 'read', messageSid: sid, attempts: 1 });
    expect(adopted.readAt).toBeTruthy();
    const claimedAt = (await rig.recipient(key)).claimedAt ?? '';
    await expect
      .poll(async () => (await rig.contacts.listMessages(TENANT, phone, { limit: 5 })).items, {
        timeout: 10_000,
      })
      .toEqual([expect.objectContaining({ messageSid: sid, at: claimedAt })]);
    expect(await tasksOn(broadcast)).toEqual([]);
    await rig.untilBroadcast(broadcast, 'completed');
    // Again: nothing more happens.
    await sweepStalled();
    expect(rig.sentTo(phone)).toHaveLength(1);
    expect(await tasksOn(broadcast)).toEqual([]);
  });

  it('does not adopt a message to the same phone that another recipient sent', async () => {
    const { broadcast, keys, phones, tasks } = await stored(['4567']);
    const [key, phone, task] = [first(keys), first(phones), first(tasks)];
    await crashedClaim(task, 3);
    // Another broadcast to the same number sent after our claim (its history entry names it).
    const other = await storeBroadcast(
      { broadcasts: rig.broadcasts, ledger: rig.ledger },
      {
        tenantId: TENANT,
        entries: [{ index: 0, phone, contentVariables: {} }],
        contentSid: CONTENT_SID,
        fanOut: true,
      },
    );
    made.push(other.broadcast);
    await send(sqsEvent([JSON.stringify(first(other.tasks))]));
    expect(rig.sentTo(phone)).toHaveLength(1);

    await untilCountsMatchLedger(rig, broadcast);
    expect((await sweepStalled()).adopted).toBe(0);
    const r = await rig.recipient(key);
    expect(r.status).toBe('queued');
    expect(r.messageSid).toBeUndefined();
    expect((await tasksOn(broadcast)).map((t) => t.task.index)).toEqual([0]);
  });

  it('lost callbacks of sent messages: the outcome comes from Twilio (read; failed 63024 for good; undelivered 30003 retried)', async () => {
    const { broadcast, keys, phones, tasks } = await stored(['5678', '0002', '0001']);
    rig.loseCallbacksOf(broadcast.broadcastId);
    expect((await send(sqsEvent(tasks.map((t) => JSON.stringify(t))))).batchItemFailures).toEqual([]);
    for (const [n, status] of ['read', 'failed', 'undelivered'].entries())
      await waitFor(() => rig.sentTo(phones[n] as string)[0]?.status === status);
    await untilCountsMatchLedger(rig, broadcast);
    expect((await sweepStalled(10 * MINUTE)).adopted).toBe(3);

    const [read, failed, undelivered] = await Promise.all(keys.map((k) => rig.recipient(k)));
    expect(read).toMatchObject({ status: 'read', messageSid: rig.sentTo(first(phones))[0]?.sid });
    expect(failed).toMatchObject({ status: 'failed', errorCode: 63024 });
    expect(failed?.nextRetryAt).toBeUndefined(); // permanent: no retry
    expect(undelivered).toMatchObject({ status: 'undelivered', errorCode: 30003 });
    expect(undelivered?.nextRetryAt).toBeTruthy(); // transient: the retry job takes it from here
    for (const phone of phones) expect(rig.sentTo(phone)).toHaveLength(1);
    expect(await tasksOn(broadcast)).toEqual([]);
    // A retry is pending: not final yet.
    await untilCountsMatchLedger(rig, broadcast);
    expect((await rig.broadcasts.get(TENANT, broadcast.broadcastId))?.status).not.toBe('partial');
  });

  it('leaves a claim alone while its lease holds, and everything while the counts move', async () => {
    const { broadcast, keys, tasks } = await stored(['6789', '6790', '6791']);
    const [moving, lost, held] = keys as [RecipientKey, RecipientKey, RecipientKey];
    await rig.ledger.claim(tasks[0] as SendTask, new Date(), new Date(Date.now() + 5 * MINUTE));
    const heldClaim = await rig.ledger.claim(
      tasks[2] as SendTask,
      new Date(),
      new Date(Date.now() + 60 * MINUTE),
    );
    await untilCountsMatchLedger(rig, broadcast);
    await sweeper({ now: ahead(MINUTE) })();
    // Progress between two sweeps: nothing is inspected.
    await rig.ledger.report(moving, { to: 'sent', at: new Date(), attempt: 1 });
    await untilCountsMatchLedger(rig, broadcast);
    await sweeper({ now: ahead(MINUTE) })();
    expect(await tasksOn(broadcast)).toEqual([]);

    // Then no progress for long enough: the lost task is enqueued again; the held claim is left alone.
    const metrics = capturingMetrics();
    const summary = await sweeper({ now: ahead(MINUTE + (STALE_SECONDS + 1) * 1000), metrics })();
    expect(summary.stalled).toBeGreaterThanOrEqual(1);
    // The run's stalled count is the StuckBroadcasts metric its alarm reads (lib/alarms.ts).
    expect(metrics.recorded).toEqual([{ name: 'StuckBroadcasts', value: summary.stalled, dimensions: {} }]);
    expect((await tasksOn(broadcast)).map((t) => t.task.index)).toEqual([lost.index]);
    expect(await rig.recipient(held)).toMatchObject({
      status: 'sending',
      claimedAt: heldClaim.claimed ? heldClaim.recipient.claimedAt : 'not claimed',
    });
  });

  it('leaves recipients that wait (quiet hours, the messaging limit) alone: not stalled, nothing enqueued', async () => {
    const { broadcast, keys, tasks } = await stored(['6792', '6793'], { fanOut: true });
    const [waiting, sent] = keys as [RecipientKey, RecipientKey];
    const until = new Date(Date.now() + 10 * 60 * MINUTE);
    expect(await rig.ledger.wait(tasks[0] as SendTask, until, 'quiet_hours', new Date())).toBe(true);
    await rig.ledger.claim(tasks[1] as SendTask, new Date(), new Date(Date.now() + MINUTE));
    await rig.ledger.report(sent, { to: 'sent', at: new Date(), attempt: 1 });
    await untilCountsMatchLedger(rig, broadcast);
    await waitFor(async () => (await rig.counters.totals(broadcast.broadcastId)).waiting.quiet_hours === 1, {
      timeoutMs: 10_000,
      message: 'the counts show the waiting recipient',
    });
    const summary = await sweepStalled(2 * 60 * MINUTE);
    expect(summary.stalled).toBe(0);
    expect(await tasksOn(broadcast)).toEqual([]);
    expect(await rig.recipient(waiting)).toMatchObject({ status: 'queued', waitReason: 'quiet_hours' });
  });

  it('fans out again a chunk never enqueued, once stale; leaves a scheduled broadcast alone until it is due', async () => {
    const { broadcast } = await stored(['7890'], {
      fanOut: false,
      createdAt: new Date(Date.now() - 10 * MINUTE),
    });
    const young = await stored(['7891'], { fanOut: false });
    const notDue = await stored(['7892'], {
      fanOut: false,
      createdAt: new Date(Date.now() - 10 * MINUTE),
      scheduledAt: new Date(Date.now() + 60 * MINUTE),
    });
    expect((await sweeper()()).refannedChunks).toBeGreaterThanOrEqual(1);
    const tasks = (await queues.drain(fanOutQueueUrl)).map((m) => JSON.parse(m.Body ?? 'null') as FanOutTask);
    expect(tasks).toContainEqual({ tenantId: TENANT, broadcastId: broadcast.broadcastId, chunk: 0 });
    expect(tasks.some((t) => t.broadcastId === young.broadcast.broadcastId)).toBe(false);
    expect(tasks.some((t) => t.broadcastId === notDue.broadcast.broadcastId)).toBe(false);
    // Once due, and its fan-out overdue (3 minutes by default), its lost fan-out is enqueued again too.
    await sweeper({ now: ahead(64 * MINUTE) })();
    const due = (await queues.drain(fanOutQueueUrl)).map((m) => JSON.parse(m.Body ?? 'null') as FanOutTask);
    expect(due).toContainEqual({ tenantId: TENANT, broadcastId: notDue.broadcast.broadcastId, chunk: 0 });
  });

  it('counts that lost a stream change (a batch given up on): recounted from the ledger once quiet, and the broadcast made final', async () => {
    const { broadcast, keys, phones, tasks } = await stored(['8801', '8802']);
    await send(sqsEvent(tasks.map((t) => JSON.stringify(t))));
    for (const key of keys) await rig.untilStatus(key, 'read');
    await untilCountsMatchLedger(rig, broadcast);
    await rig.untilBroadcast(broadcast, 'completed');
    // What the counters hold when the changes sending → sent → delivered → read of recipient 0 never
    // reached them: one recipient still `sending`, one fewer `read`.
    await rig.db.doc.send(
      new UpdateCommand({
        TableName: rig.db.tableName,
        Key: shardCountsKey(broadcast.broadcastId, 'S00'),
        UpdateExpression: 'ADD c_sending :one, c_read :minus',
        ExpressionAttributeValues: { ':one': 1, ':minus': -1 },
      }),
    );
    const counts = () => rig.counts(broadcast);
    expect(await counts()).toMatchObject({ sending: 1, read: 1 });
    // Its counts never added up, so it never became final: still running (the stream would not
    // settle it again, as no change of it comes any more).
    expect(await rig.broadcasts.reopen(broadcast)).toBe(true);

    // Not before the counts have stood still for the stale time, and no recipient changed for longer
    // than the stream keeps a record (a change still on its way would be counted twice).
    expect((await sweeper()()).recounted).toBe(0);
    expect((await rig.broadcasts.get(TENANT, broadcast.broadcastId))?.status).toBe('running');
    expect((await sweeper({ now: ahead((STALE_SECONDS + 1) * 1000) })()).recounted).toBe(0);
    const summary = await sweeper({ now: ahead((RECOUNT_QUIET_SECONDS + 1) * 1000) })();
    expect(summary.recounted).toBe(1);
    expect(await counts()).toMatchObject({ sending: 0, read: 2 });
    await rig.untilBroadcast(broadcast, 'completed');
    expect(logs).toContainEqual(
      expect.objectContaining({
        message: expect.stringContaining('recounted'),
        fields: expect.objectContaining({ shard: 'S00', correction: { c_sending: -1, c_read: 1 } }),
      }),
    );
    // Nothing to repair any more; and nothing was sent again.
    expect((await sweepStalled((RECOUNT_QUIET_SECONDS + 1) * 1000)).recounted).toBe(0);
    for (const phone of phones) expect(rig.sentTo(phone)).toHaveLength(1);
  });

  it('settles: a broadcast whose status is behind its counts becomes final; a cancelled one with nothing sending leaves the active list', async () => {
    const done = await stored(['8765']);
    await send(sqsEvent([JSON.stringify(first(done.tasks))]));
    await rig.untilStatus(first(done.keys), 'read');
    await untilCountsMatchLedger(rig, done.broadcast);
    // Its status behind its counts (say the stream batch of its last change was given up on after its
    // retries, or its settle failed): nothing but the sweeper will settle it now.
    await rig.countsStream.pause();
    expect(await rig.broadcasts.reopen(done.broadcast)).toBe(true);
    // Cancelled with nothing written: no stream record will ever settle it.
    const cancelled = await stored(['8766']);
    await rig.broadcasts.cancel(TENANT, cancelled.broadcast.broadcastId, new Date());
    const active = async () => (await rig.broadcasts.active(TENANT)).map((b) => b.broadcastId);
    expect(await active()).toEqual(
      expect.arrayContaining([done.broadcast.broadcastId, cancelled.broadcast.broadcastId]),
    );

    try {
      expect((await sweeper()()).settled).toBeGreaterThanOrEqual(1);
    } finally {
      rig.countsStream.resume();
    }
    expect((await rig.broadcasts.get(TENANT, done.broadcast.broadcastId))?.status).toBe('completed');
    expect(await active()).not.toContain(done.broadcast.broadcastId);
    expect(await active()).not.toContain(cancelled.broadcast.broadcastId);
    expect((await rig.broadcasts.get(TENANT, cancelled.broadcast.broadcastId))?.status).toBe('cancelled');
  });

  it('a paused broadcast’s waiting recipients are not lost: the sweeper enqueues nothing however long it stands; the resume releases each once', async () => {
    // Recipient 0's claim was released when the pause landed (queued in the ledger); 1's task was
    // dropped before any claim (never written).
    const { broadcast, keys, phones, tasks } = await stored(['5671', '5672']);
    await rig.ledger.claim(first(tasks), new Date(), new Date(Date.now() + MINUTE));
    expect(await rig.ledger.release(first(keys), 1, new Date())).toBe(true);
    const paused = await rig.broadcasts.pause(
      TENANT,
      broadcast.broadcastId,
      new Date(),
      'paused by an admin',
    );
    expect(paused?.status).toBe('paused');
    await sweeper()();
    expect((await sweeper({ now: ahead(60 * MINUTE) })()).requeued).toBe(0);
    expect(await tasksOn(broadcast)).toEqual([]);
    expect((await rig.broadcasts.get(TENANT, broadcast.broadcastId))?.status).toBe('paused');

    const release = (b: Broadcast) =>
      releaseChunk(
        {
          broadcasts: rig.broadcasts,
          ledger: rig.ledger,
          sendQueue: new SqsTaskQueue<SendTask>(queues.client, sendQueueUrl),
        },
        b,
        0,
        new Date(),
      );
    expect(await release(paused as Broadcast)).toBe(0); // nothing while paused
    const resumed = await rig.broadcasts.resume(TENANT, broadcast.broadcastId, new Date());
    expect(resumed?.status).toBe('queued'); // what it was paused from
    expect((await rig.broadcasts.get(TENANT, broadcast.broadcastId))?.pauseReason).toBeUndefined();
    expect(await release(resumed as Broadcast)).toBe(2);
    const again = await tasksOn(broadcast);
    expect(again.map((t) => t.task.index).sort()).toEqual([0, 1]);
    expect((await deliver(again.map((t) => t.message))).batchItemFailures).toEqual([]);
    await rig.untilBroadcast(broadcast, 'completed');
    for (const phone of phones) expect(rig.sentTo(phone)).toHaveLength(1);
    expect(await release(resumed as Broadcast)).toBe(0); // a second release finds nobody unsent
  });

  it('a canary still deciding: its own lost task is sent again once stalled, its held rest never', async () => {
    const { broadcast, tasks } = await stored(['6781', '6782', '6783']); // no task reached a queue
    const canary = { size: 1, below: 1, rest: 2, maxFailureRate: 0.5, minOutcomes: 1, decision: 'waiting' };
    await rig.db.doc.send(
      new UpdateCommand({
        TableName: rig.db.tableName,
        Key: { pk: `TENANT#${TENANT}`, sk: `BROADCAST#${broadcast.broadcastId}` },
        UpdateExpression: 'SET canary = :canary',
        ExpressionAttributeValues: { ':canary': canary },
      }),
    );
    expect((await sweepStalled()).requeued).toBe(1);
    const again = await tasksOn(broadcast);
    expect(again.map((t) => t.task)).toEqual([{ ...first(tasks), queuedAt: expect.any(String) }]);
  });

  it('the messenger finds messages for reconciliation: unknown SID → undefined; by To and time, also through a Messaging Service', async () => {
    const messenger = rig.messenger;
    expect(await messenger.fetchMessage(`SM${'e'.repeat(32)}`)).toBeUndefined();
    const { broadcast, phones, tasks } = await stored(['8901', '8902']);
    rig.loseCallbacksOf(broadcast.broadcastId);
    const before = new Date(Date.now() - 1000);
    const sid = await sentByTheDead(first(tasks), 'read');
    const fetched = await messenger.fetchMessage(sid);
    expect(fetched).toMatchObject({ sid, to: first(phones), status: 'read' });
    expect(fetched?.dateCreated).toBeInstanceOf(Date);
    expect((await messenger.findMessages(first(phones), before)).map((m) => m.sid)).toEqual([sid]);
    expect(await messenger.findMessages(first(phones), new Date(Date.now() + MINUTE))).toEqual([]);
    expect(await messenger.findMessages(phones[1] as string, before)).toEqual([]);
    const viaService = new TwilioMessenger({
      accountSid: ACCOUNT_SID,
      authToken: rig.authToken,
      messagingServiceSid: `MG${'0'.repeat(32)}`,
      apiBaseUrl: rig.simulator.url,
    });
    expect((await viaService.findMessages(first(phones), before)).map((m) => m.sid)).toEqual([sid]);
  });

  it('signatures are stable; logs mask phones and carry no auth token', () => {
    expect(countsSignature({ b: 1, a: 2 })).toBe(countsSignature({ a: 2, b: 1 }));
    expect(countsSignature({ a: 1 })).not.toBe(countsSignature({ a: 2 }));
    const text = JSON.stringify(logs);
    expect(text).not.toMatch(/\+9725\d{8}/);
    expect(text).not.toContain(rig.authToken);
  });
});
