import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSum, metricValues } from '../../lib/local/metrics-file.ts';
import { localSqsClient } from '../../lib/local/sqs-local.ts';
import { SAMPLE_TEMPLATES } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, type Json, startApiTwin, testPhone } from '../support/api-twin.ts';

const ACME = 'key-acme-0123456789';
const GLOBEX = 'key-globex-0123456789';
// Sample templates of the Twilio simulator: one without variables, one with a variable "1".
const CONTENT_SID = SAMPLE_TEMPLATES.coopNotice.contentSid;
const ONE_VARIABLE_SID = SAMPLE_TEMPLATES.subsidyReminder.contentSid;

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX}`, SIM_MPS: '1000' });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

const call: ApiTwin['call'] = (...args) => api.call(...args);
const phone = testPhone;
const finished = (id: string, status?: string, key = ACME) => api.untilBroadcast(id, key, status);

describe('core pipeline through the local twin', () => {
  it('3 recipients, 2 succeed and 1 fails: partial, with the failure per recipient (the seeds’ acceptance case)', async () => {
    const failing = phone('0002');
    const phones = [phone(), phone(), failing];
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        name: 'Acceptance',
        template: { contentSid: ONE_VARIABLE_SID, variables: { '1': 'May 5' } },
        recipients: phones,
      },
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({
      totalRecipients: 3,
      queuedCount: 3,
      idempotent: false,
      invalidRecipientsCount: 0,
    });
    expect(created.body.items).toHaveLength(3);

    // `completed` may show for a moment (all sent) before the 63024 failure arrives; `partial` is where it ends.
    const broadcast = await finished(created.body.broadcastId, 'partial');
    expect(broadcast.counts.failed).toBe(1);
    expect(broadcast.counts.sent + broadcast.counts.delivered + broadcast.counts.read).toBe(2);
    expect(Object.values(broadcast.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(3);
    expect(broadcast.completedAt).toBeDefined();

    const recipients = await call('GET', `/v1/broadcasts/${created.body.broadcastId}/recipients`, {
      key: ACME,
    });
    const failed = recipients.body.items.find((r: Json) => r.phone === failing);
    expect(failed).toMatchObject({ status: 'failed', errorCode: 63024 });
    expect(failed.errorMessage).toEqual(expect.any(String)); // the provider's reason, readable

    const progress = await call('GET', `/v1/broadcasts/${created.body.broadcastId}/progress`, { key: ACME });
    expect(progress.body).toMatchObject({ processedCount: 3, pendingCount: 0, progressPct: 100 });
    expect(progress.body.errorSummary).toEqual([{ code: 63024, message: expect.any(String), count: 1 }]);

    // updatedAt says when the progress last changed, not when it was asked: once Twilio has nothing
    // left to report and the counts have every change, two polls agree on a time no earlier than the
    // last recipient's change and the broadcast's end.
    await waitFor(
      async () =>
        ((await (await fetch(`${api.twin.simulator?.url}/_simulator/health`)).json()) as Json)
          .pendingSteps === 0 || undefined,
      { timeoutMs: 15_000, message: 'the Twilio simulator kept posting status callbacks' },
    );
    const [settled, ledger] = await waitFor(
      async () => {
        const [now, list] = await Promise.all([
          call('GET', `/v1/broadcasts/${created.body.broadcastId}/progress`, { key: ACME }),
          call('GET', `/v1/broadcasts/${created.body.broadcastId}/recipients`, { key: ACME }),
        ]);
        const byStatus: Record<string, number> = {};
        for (const r of list.body.items as Json[]) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
        const shown = (counts: Record<string, number>) =>
          JSON.stringify(
            Object.entries(counts)
              .filter(([, n]) => n > 0)
              .sort(),
          );
        return shown(now.body.counts) === shown(byStatus)
          ? ([now.body, list.body.items as Json[]] as const)
          : undefined;
      },
      { timeoutMs: 15_000, message: 'the counts never caught up with the recipients' },
    );
    const asked = new Date().toISOString();
    const again = await call('GET', `/v1/broadcasts/${created.body.broadcastId}/progress`, { key: ACME });
    expect(again.body.updatedAt).toBe(settled.updatedAt);
    expect(settled.updatedAt < asked).toBe(true);
    const ended = (await call('GET', `/v1/broadcasts/${created.body.broadcastId}`, { key: ACME })).body;
    for (const time of [ended.completedAt, ...ledger.map((r) => r.updatedAt)])
      expect(settled.updatedAt >= time, `${settled.updatedAt} before ${time}`).toBe(true);

    for (const phone of phones) expect(api.messagesTo(phone)).toBe(1);
    // The service's metrics (EMF in DATA_DIR/metrics.jsonl on the twin): three accepted by Twilio, one
    // failed by its callback with 63024, also in the failure total the failure-rate alarm reads.
    await waitFor(
      async () => (metricSum(api.dataDir, 'MessagesFailed', { ErrorCode: '63024' }) === 1 ? true : undefined),
      { timeoutMs: 10_000, message: 'the 63024 failure was not in the metrics' },
    );
    expect(metricSum(api.dataDir, 'MessagesSent')).toBe(3);
    expect(metricSum(api.dataDir, 'MessagesFailed')).toBe(1);
    expect(metricSum(api.dataDir, 'StatusCallbacks', { Status: 'failed' })).toBe(1);
    expect(metricValues(api.dataDir, 'FirstSendLatency')).toHaveLength(1);
  }, 90_000);

  it('reports invalid and duplicate phones, and normalizes national formats', async () => {
    const national = phone().replace('+97250', '');
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        template: { contentSid: CONTENT_SID },
        defaultCountry: 'IL',
        recipients: [
          `050-${national.slice(0, 3)}-${national.slice(3)}`,
          `+972 50 ${national}`,
          '123',
          'abc',
          phone(),
        ],
      },
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({
      totalRecipients: 2,
      duplicateRecipientsCount: 1,
      invalidRecipientsCount: 2,
    });
    expect(created.body.items[0].phone).toBe(`+97250${national}`);
    expect(created.body.invalidRecipients.map((i: Json) => i.reason).sort()).toEqual([
      'invalid_format',
      'too_short',
    ]);
  });

  it('reports a recipient whose template variable has no value, at its place in the request', async () => {
    const named = phone().replace('+97250', '');
    const unnamed = phone().replace('+97250', '');
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        template: { contentSid: ONE_VARIABLE_SID, variables: { '1': 'Hello {{name}}' } },
        defaultCountry: 'IL',
        recipients: [{ phone: `050-${named}`, variables: { name: 'Dana' } }, { phone: `050-${unnamed}` }],
      },
    });
    expect(created.status).toBe(202);
    expect(created.body.totalRecipients).toBe(1);
    expect(created.body.invalidRecipients).toEqual([
      { input: `+97250${unnamed}`, reason: 'missing_variables', index: 1, missing: ['name'] },
    ]);
  });

  it('answers errors in the contract’s shape and writes nothing', async () => {
    const noValid = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { template: { contentSid: CONTENT_SID }, recipients: ['123'] },
    });
    expect(noValid.status).toBe(400);
    expect(noValid.body.error.code).toBe('NO_VALID_RECIPIENTS');

    const bad = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { template: { contentSid: 'nope' }, recipients: [] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.details.map((d: Json) => d.path)).toEqual(
      expect.arrayContaining(['template.contentSid']),
    );

    const before = await call('GET', '/v1/broadcasts?limit=500', { key: GLOBEX });
    expect(before.body.items).toEqual([]);
  });

  it('returns the same broadcast for a repeated request, and 409 for a reused key with another body', async () => {
    const once = phone();
    const body = { template: { contentSid: CONTENT_SID }, recipients: [once] };
    const first = await call('POST', '/v1/broadcasts', { key: ACME, body });
    const again = await call('POST', '/v1/broadcasts', { key: ACME, body });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ broadcastId: first.body.broadcastId, idempotent: true });

    const keyed = { 'idempotency-key': `order-${once}` };
    const k1 = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { ...body, name: 'keyed' },
      headers: keyed,
    });
    const k2 = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { ...body, name: 'keyed' },
      headers: keyed,
    });
    expect(k2.body).toMatchObject({ broadcastId: k1.body.broadcastId, idempotent: true });
    // A key never makes a duplicate more likely than no key: the keyed request is the same as the
    // keyless one sent moments ago (its name aside), so it is that broadcast.
    expect(k1.body).toMatchObject({ broadcastId: first.body.broadcastId, idempotent: true });
    const conflict = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { ...body, name: 'another' },
      headers: keyed,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
    await finished(first.body.broadcastId);
    // One broadcast, sent once despite its four repeats.
    expect(api.messagesTo(once)).toBe(1);
  }, 60_000);

  it('401 without a valid key; 404 for another tenant’s broadcast', async () => {
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { template: { contentSid: CONTENT_SID }, recipients: [phone()] },
    });
    const id = created.body.broadcastId;
    const none = await call('GET', `/v1/broadcasts/${id}`);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    expect((await call('GET', `/v1/broadcasts/${id}`, { key: 'wrong-key' })).status).toBe(401);
    const other = await call('GET', `/v1/broadcasts/${id}`, { key: GLOBEX });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('NOT_FOUND');
    expect((await call('GET', `/v1/broadcasts/${id}/recipients`, { key: GLOBEX })).status).toBe(404);
    expect(
      (await call('GET', '/v1/broadcasts', { key: GLOBEX })).body.items.map((b: Json) => b.broadcastId),
    ).not.toContain(id);
  });

  it('a forged status callback is refused with 403 and changes nothing', async () => {
    const res = await fetch(`${api.twin.apiUrl}/webhooks/twilio/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'forged' },
      body: 'MessageSid=SM123&MessageStatus=delivered',
    });
    expect(res.status).toBe(403);
    // Counted as a Twilio authentication failure (a rotated token not yet in the secret looks like this).
    await waitFor(
      async () =>
        metricSum(api.dataDir, 'TwilioAuthFailures', { Source: 'webhook' }) >= 1 ? true : undefined,
      { timeoutMs: 5_000, message: 'the signature failure was not in the metrics' },
    );
  });

  it('the ambiguous 500 and a duplicated send task still make one message each', async () => {
    const ambiguous = phone('0004');
    const normal = phone();
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { template: { contentSid: CONTENT_SID }, recipients: [ambiguous, normal] },
    });
    const id = created.body.broadcastId;
    await finished(id, 'completed');
    // The same task again, as SQS may deliver it: the claim admits no second send.
    const sqs = localSqsClient(api.twin.sqsEndpoint);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: api.twin.queues.send?.main.url,
        // Whole, as the fan-out wrote it (recipients are indexed in the request's order; a body
        // missing a field would be dropped at parse and prove nothing).
        MessageBody: JSON.stringify({
          tenantId: 'acme',
          broadcastId: id,
          index: 1,
          attempt: 1,
          phone: normal,
        }),
      }),
    );
    sqs.destroy();
    // Taken and decided (the ambiguous send's own task may still wait, delayed, for its lease).
    await api.untilQueueDrained('send', { delayed: false });
    await waitFor(
      async () =>
        (await call('GET', `/v1/broadcasts/${id}/recipients`, { key: ACME })).body.items.every(
          (r: Json) => r.status === 'read',
        ),
      {
        timeoutMs: 30_000,
        message: 'recipients did not reach read',
      },
    );
    expect(api.messagesTo(ambiguous)).toBe(1);
    expect(api.messagesTo(normal)).toBe(1);
  }, 90_000);

  it('says a retry is pending, and when, while a broadcast waits for it (progress at 100 % is not the end)', async () => {
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { template: { contentSid: CONTENT_SID }, recipients: [phone(), phone('0001')] },
    });
    const id = created.body.broadcastId;
    const before = Date.now();
    const waiting = await waitFor(
      async () => {
        const progress = await api.progress(id, ACME);
        // Both processed (the other recipient's send may still be under way when the retry shows).
        return progress.retries?.pending === 1 &&
          progress.counts.undelivered === 1 &&
          progress.pendingCount === 0
          ? progress
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, message: 'no pending retry was shown with both processed' },
    );
    expect(waiting.progressPct).toBe(100);
    expect(waiting.status).toBe('running');
    // The default first window is 5 minutes (RETRY_BACKOFF_SECONDS=300,900,3600).
    const nextAt = Date.parse(waiting.retries.nextAt);
    expect(nextAt).toBeGreaterThan(before + 290_000);
    expect(nextAt).toBeLessThan(Date.now() + 310_000);
    await call('POST', `/v1/broadcasts/${id}/cancel`, { key: ACME });
  }, 60_000);

  it('a cancelled scheduled broadcast shows its recipient cancelled, not pending, and is no longer active', async () => {
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: {
        template: { contentSid: CONTENT_SID },
        recipients: [phone()],
        scheduledAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    expect(created.body.status).toBe('scheduled');
    const cancelled = await call('POST', `/v1/broadcasts/${created.body.broadcastId}/cancel`, { key: ACME });
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelledCount: 1 });
    const { body } = await call('GET', `/v1/broadcasts/${created.body.broadcastId}`, { key: ACME });
    expect(body.counts).toMatchObject({ pending: 0, cancelled: 1 });
    const active = await api.call('GET', '/v1/broadcasts?status=cancelled', { key: ACME });
    expect(active.body.items.map((b: Json) => b.broadcastId)).toContain(created.body.broadcastId);
    await waitFor(
      async () => {
        const metrics = await call('GET', '/v1/metrics', { key: ACME });
        const list = await call('GET', '/v1/broadcasts?limit=500', { key: ACME });
        const notFinal = (list.body.items as Json[]).filter((b) =>
          ['scheduled', 'accepted', 'queued', 'running'].includes(b.status),
        ).length;
        return metrics.body.activeBroadcasts === notFinal ? true : undefined;
      },
      { timeoutMs: 20_000, message: '/v1/metrics counts a broadcast that is no longer active' },
    );
  });

  it('serves the OpenAPI document generated from the schemas', async () => {
    const doc = await call('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/broadcasts', '/v1/broadcasts/{id}/progress']),
    );
  });

  // The two big lists last: their cancelled tasks still pass through the twin's send queue, which is
  // first in, first out (fauxqs has no SQS fair queues), and would hold up the tests after them.
  it('stores a list by size as well as count: 1,000 recipients with 380-character values are accepted and sent', async () => {
    // 1,000 × 380 characters is ~400 KB: more than one DynamoDB item can hold (API.md allows 1,024 per value).
    const long = 'x'.repeat(380);
    const base = 972_541_000_000 + Math.floor(Math.random() * 900) * 10_000;
    const recipients = Array.from({ length: 1_000 }, (_, i) => ({
      phone: `+${base + i}`,
      variables: { a: long },
    }));
    const created = await call('POST', '/v1/broadcasts', {
      key: ACME,
      body: { template: { contentSid: ONE_VARIABLE_SID, variables: { '1': '{{a}}' } }, recipients },
    });
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(202);
    expect(created.body.totalRecipients).toBe(1_000);
    await waitFor(
      async () => (await api.progress(created.body.broadcastId, ACME)).counts.pending === 0 || undefined,
      { timeoutMs: 60_000, intervalMs: 500, message: 'the list was not handed to the send queue' },
    );
    await waitFor(() => api.messagesTo(recipients[0]?.phone ?? '') === 1, {
      timeoutMs: 60_000,
      message: 'the first recipient got nothing',
    });
    const sent = (api.twin.simulator?.messages() ?? []).find(
      (m) => m.to === `whatsapp:${recipients[0]?.phone}`,
    );
    expect(JSON.parse(String(sent?.contentVariables))).toEqual({ '1': long });
    await call('POST', `/v1/broadcasts/${created.body.broadcastId}/cancel`, { key: ACME });
  }, 120_000);

  it('accepts 10,000 recipients in one request and fans them all out', async () => {
    const base = 972_540_000_000 + Math.floor(Math.random() * 900) * 10_000;
    const recipients = Array.from({ length: 10_000 }, (_, i) => `+${base + i}`);
    const created = await call('POST', '/v1/broadcasts', {
      key: GLOBEX,
      body: { template: { contentSid: CONTENT_SID }, recipients },
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ totalRecipients: 10_000, queuedCount: 10_000 });
    expect(created.body.items).toHaveLength(100);
    await waitFor(
      async () => {
        const { body } = await call('GET', `/v1/broadcasts/${created.body.broadcastId}/progress`, {
          key: GLOBEX,
        });
        return body.counts.pending === 0 ? body : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000, message: 'the 10,000 were not all fanned out' },
    );
    // Sending them all is not this test's point: a cancel frees the machine for the others.
    expect(
      (await call('POST', `/v1/broadcasts/${created.body.broadcastId}/cancel`, { key: GLOBEX })).status,
    ).toBe(200);
  }, 180_000);
});
