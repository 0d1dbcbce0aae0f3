import { expect } from 'vitest';
import { RECIPIENT_STATUSES } from '../../functions/core/statuses.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import type { ApiTwin, Json } from './api-twin.ts';

const FINAL = ['completed', 'partial', 'failed', 'cancelled'];

/**
 * The promises a chaos drill checks for one broadcast, once it is final: every recipient reached an
 * outcome, none was messaged twice (and each that was sent was messaged once), the counts add up to
 * the total and agree with the ledger recipient by recipient.
 */
export async function expectKeptPromises(
  api: ApiTwin,
  key: string,
  broadcastId: string,
  phones: readonly string[],
  options: { timeoutMs: number },
): Promise<Json> {
  const done = await api
    .untilBroadcast(broadcastId, key, (b) => FINAL.includes(b.status), {
      timeoutMs: options.timeoutMs,
      message: `broadcast ${broadcastId} did not end under faults`,
    })
    .catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await inFlight(api, key, broadcastId)}`);
    });
  const recipients = await ledgerOf(api, key, broadcastId);
  expect(recipients.map((r) => r.phone).sort()).toEqual([...phones].sort());
  for (const r of recipients) expect(['queued', 'sending', 'pending'], r.phone).not.toContain(r.status);
  const messaged = phones.map((phone) => api.messagesTo(phone));
  expect(
    messaged.filter((n) => n > 1),
    'recipients messaged twice',
  ).toEqual([]);
  for (const r of recipients)
    if (['sent', 'delivered', 'read'].includes(r.status)) expect(api.messagesTo(r.phone), r.phone).toBe(1);
  // The counts follow the ledger through the stream aggregator, and the ledger itself keeps moving
  // after the broadcast is final: delivered and read callbacks (and their retries after a failed
  // POST) arrive when they arrive, as on Twilio. So the counts are compared with the ledger as it is
  // once the provider has nothing left to report, read again on each try: never with the snapshot
  // taken when the broadcast ended (a callback after it moves the counts past that snapshot for good).
  await waitFor(
    async () => {
      const res = await fetch(`${api.twin.simulator?.url}/_simulator/health`);
      return ((await res.json()) as Json).pendingSteps === 0 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100, message: 'the Twilio simulator kept posting status callbacks' },
  );
  let last: { counts: unknown; ledger: Record<string, number> } | undefined;
  await waitFor(
    async () => {
      const ledger = byStatusOf(await ledgerOf(api, key, broadcastId));
      const now = await api.call('GET', `/v1/broadcasts/${broadcastId}`, { key });
      last = { counts: now.body.counts, ledger };
      return JSON.stringify(now.body.counts) === JSON.stringify(ledger) ? true : undefined;
    },
    {
      timeoutMs: 15_000,
      intervalMs: 250,
      message: `the counts of ${broadcastId} do not match its recipients`,
    },
  ).catch((error: Error) => {
    throw new Error(
      `${error.message}: counts ${JSON.stringify(last?.counts)}, recipients ${JSON.stringify(last?.ledger)}`,
    );
  });
  const byStatus = byStatusOf(recipients);
  expect(Object.values(byStatus).reduce((a, b) => a + b, 0)).toBe(done.totalRecipients);
  return done;
}

/**
 * What a drill that did not end needs to be understood (the broadcast's last counts are in the
 * message before it): the ledger by status, and each recipient it still has in flight with the
 * messages Twilio (the simulator) holds for that number and the statuses each went through.
 */
async function inFlight(api: ApiTwin, key: string, broadcastId: string): Promise<string> {
  const recipients = await ledgerOf(api, key, broadcastId).catch((error: Error) => error);
  if (recipients instanceof Error) return `(the ledger could not be read: ${recipients.message})`;
  const open = recipients.filter((r) => ['queued', 'sending', 'pending'].includes(r.status));
  const lines = open.map((r) => {
    const messages = api.twin.simulator?.messagesTo(`whatsapp:${r.phone}`) ?? [];
    const atTwilio = messages.map((m) => `${m.sid} ${m.history.map((h) => h.status).join('>')}`);
    return `  …${r.phone.slice(-4)} ${r.status} attempts ${r.attempts} updated ${r.updatedAt}; Twilio: ${atTwilio.join('; ') || 'none'}`;
  });
  return [
    `the ledger: ${JSON.stringify(byStatusOf(recipients))}`,
    `in flight in the ledger (${open.length}):`,
    ...lines,
  ].join('\n');
}

/**
 * Every recipient of the broadcast, read through the API (all pages). The drill's faults reach the
 * read route too: a page that answers 500 (DynamoDB still failing after the SDK's retries) is asked
 * again, as a client would; any other answer but 200 fails.
 */
async function ledgerOf(api: ApiTwin, key: string, broadcastId: string): Promise<Json[]> {
  const recipients: Json[] = [];
  let cursor: string | undefined;
  do {
    const route = `/v1/broadcasts/${broadcastId}/recipients?limit=500${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await waitFor(
      async () => {
        const answer = await api.call('GET', route, { key });
        return answer.status === 500 ? undefined : answer;
      },
      { timeoutMs: 10_000, intervalMs: 100, message: `${route} kept answering 500` },
    );
    expect(page.status).toBe(200);
    recipients.push(...(page.body.items as Json[]));
    cursor = page.body.nextCursor;
  } while (cursor);
  return recipients;
}

/** How many recipients are in each status, every status named (the shape of a broadcast's counts). */
function byStatusOf(recipients: readonly Json[]): Record<string, number> {
  const byStatus: Record<string, number> = Object.fromEntries(RECIPIENT_STATUSES.map((s) => [s, 0]));
  for (const r of recipients) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  return byStatus;
}
