import { describe, expect, it, vi } from 'vitest';
import { quotes } from '../../functions/adapters/dynamo-erasures.ts';
import { EMPTY_PROGRESS, type Erasure } from '../../functions/core/erasure.ts';
import {
  type ErasePersonDeps,
  type ErasureTask,
  erasePerson,
} from '../../functions/use-cases/erase-person.ts';

const PHONE = '+972501234567';

describe('quotes', () => {
  it('finds the number in free text, in international or national form, and nothing shorter', () => {
    expect(quotes('+972 50-123-4567', PHONE)).toBe(true);
    expect(quotes('0501234567', PHONE)).toBe(true);
    expect(quotes('+9725012345670000', PHONE)).toBe(true);
    expect(quotes('4567', PHONE)).toBe(false);
    expect(quotes('+972507654321', PHONE)).toBe(false);
    expect(quotes('no digits', PHONE)).toBe(false);
  });
});

/** `twilio`: what the provider answers for each SID on each try (its last answer repeats). */
function fakeDeps(
  options: { sids?: string[]; twilio?: Record<string, ('deleted' | 'not_found' | 'not_final')[]> } = {},
) {
  const tries = new Map<string, number>();
  const providerDeletes: string[] = [];
  let history = [...(options.sids ?? [])];
  let stored: Erasure = {
    tenantId: 'acme',
    erasureId: 'era_01JD7X3K9Q2M4T6V8W0Y1Z2A3B',
    status: 'queued',
    phoneMasked: '+********4567',
    createdAt: '2026-11-30T10:00:00.000Z',
    updatedAt: '2026-11-30T10:00:00.000Z',
    progress: EMPTY_PROGRESS,
  };
  const saved: Erasure[] = [];
  const continued: { task: ErasureTask; delaySeconds?: number }[] = [];
  const broadcasts = ['brd_3', 'brd_2', 'brd_1'].map((id) => ({
    broadcastId: id,
    createdAt: new Date().toISOString(),
  }));
  const deps: ErasePersonDeps = {
    erasures: {
      get: async () => stored,
      save: async (e) => {
        stored = e;
        saved.push(e);
      },
      // The history holds the SIDs until it is deleted (each pass deletes what landed since).
      deleteHistory: async () => {
        history = [];
        return 2;
      },
      messageSids: async () => history,
      deleteSendHistory: async () => {},
      minimizeSuppression: async () => true,
      redactImportErrors: async () => 0,
      redactCampaigns: async () => 1,
      broadcastsPage: async (_t, after, limit) => {
        const from = after ? broadcasts.findIndex((b) => `BROADCAST#${b.broadcastId}` === after) + 1 : 0;
        const items = broadcasts.slice(from, from + limit);
        const last = items.at(-1);
        return {
          items,
          ...(from + limit < broadcasts.length && last ? { next: `BROADCAST#${last.broadcastId}` } : {}),
        };
      },
      redactRecipients: vi.fn(async () => 1),
      redactListEntries: async () => 1,
      redactInvalidInputs: async () => 0,
    },
    contacts: { erase: vi.fn(async () => true) },
    providerMessages: async () => ({
      async delete(sid) {
        const n = tries.get(sid) ?? 0;
        tries.set(sid, n + 1);
        providerDeletes.push(sid);
        const answers = options.twilio?.[sid] ?? ['deleted'];
        return answers[Math.min(n, answers.length - 1)] ?? 'deleted';
      },
    }),
    continueWith: async (task, delaySeconds) => {
      continued.push({ task, ...(delaySeconds !== undefined ? { delaySeconds } : {}) });
    },
    settleSeconds: 60,
    // A fixed clock a minute after the request: the 24-hour give-up must not depend on today's date.
    now: () => new Date(Date.parse(stored.createdAt) + 60_000),
  };
  return { deps, saved, continued, providerDeletes, current: () => stored };
}

describe('erasePerson', () => {
  it('hands over at its deadline, resumes after the last broadcast done, and completes after the settle delay', async () => {
    const { deps, saved, continued, current } = fakeDeps();
    const task = { tenantId: 'acme', erasureId: current().erasureId, phone: PHONE };
    // Past its deadline at once: the person's own items are done, then the broadcasts are handed on.
    expect(await erasePerson(deps, task, 0)).toEqual({ status: 'continued' });
    expect(current()).toMatchObject({
      status: 'running',
      progress: { contactErased: true, campaignsChanged: 1 },
    });
    expect(continued.at(-1)).toEqual({ task });
    expect(await erasePerson(deps, continued.at(-1)?.task as ErasureTask, Date.now() + 60_000)).toEqual({
      status: 'continued',
    });
    expect(continued.at(-1)).toEqual({ task: { ...task, final: true }, delaySeconds: 60 });
    expect(deps.contacts.erase).toHaveBeenCalledTimes(1);
    expect(deps.erasures.redactRecipients).toHaveBeenCalledTimes(3);
    expect(await erasePerson(deps, continued.at(-1)?.task as ErasureTask, Date.now() + 60_000)).toEqual({
      status: 'completed',
    });
    expect(current()).toMatchObject({
      status: 'completed',
      completedAt: expect.any(String),
      progress: { broadcastsScanned: 3, recipientsRedacted: 3, historyDeleted: 4, listEntriesRedacted: 3 },
    });
    // The record never holds the number, whatever step wrote it.
    expect(JSON.stringify(saved)).not.toContain('501234567');
    // A redelivered task of a completed erasure does nothing.
    expect(await erasePerson(deps, task, Date.now() + 60_000)).toEqual({ status: 'completed' });
    expect(deps.contacts.erase).toHaveBeenCalledTimes(1);
  });
});

describe('erasePerson at Twilio', () => {
  const HOUR = 3_600_000;
  const created = Date.parse('2026-11-30T10:00:00.000Z');

  it("deletes the person's messages at Twilio last, tries again every 15 minutes while Twilio holds one as not final, then completes", async () => {
    const { deps, continued, providerDeletes, current } = fakeDeps({
      sids: ['SMdelivered', 'SMinbound', 'SMsent', 'SMgone'],
      twilio: { SMsent: ['not_final', 'not_final', 'deleted'], SMgone: ['not_found'] },
    });
    let clock = created + 60_000;
    const run = (t: ErasureTask) =>
      erasePerson({ ...deps, now: () => new Date(clock) }, t, Date.now() + 60_000);
    const task = { tenantId: 'acme', erasureId: current().erasureId, phone: PHONE };
    await run(task);
    // The SIDs are kept before the history goes; nothing is deleted at Twilio before the last pass.
    expect(current().providerPending).toEqual(['SMdelivered', 'SMinbound', 'SMsent', 'SMgone']);
    expect(providerDeletes).toEqual([]);

    expect(await run(continued.at(-1)?.task as ErasureTask)).toEqual({ status: 'continued' });
    expect(continued.at(-1)).toEqual({ task: { ...task, final: true }, delaySeconds: 900 });
    expect(current()).toMatchObject({
      status: 'running',
      providerRetryAt: new Date(clock + 900_000).toISOString(),
      providerPending: ['SMsent'],
      progress: { providerMessagesDeleted: 2, providerMessagesNotFound: 1, providerMessagesPending: 1 },
    });
    clock += 15 * 60_000;
    await run(continued.at(-1)?.task as ErasureTask);
    expect(current()).toMatchObject({ status: 'running', progress: { providerMessagesPending: 1 } });
    clock += 15 * 60_000;
    expect(await run(continued.at(-1)?.task as ErasureTask)).toEqual({ status: 'completed' });
    expect(current()).toMatchObject({
      status: 'completed',
      providerPending: [],
      progress: {
        providerMessagesDeleted: 3,
        providerMessagesNotFound: 1,
        providerMessagesPending: 0,
        providerMessagesLeft: 0,
      },
    });
    expect(providerDeletes.filter((sid) => sid === 'SMdelivered')).toHaveLength(1);
  });

  it('gives up after 24 hours on a message Twilio never finalizes, counts it left and names it for the operator', async () => {
    const { deps, continued, current } = fakeDeps({
      sids: ['SMstuck', 'SMok'],
      twilio: { SMstuck: ['not_final'] },
    });
    let clock = created;
    const run = (t: ErasureTask) =>
      erasePerson({ ...deps, now: () => new Date(clock) }, t, Date.now() + 60_000);
    await run({ tenantId: 'acme', erasureId: current().erasureId, phone: PHONE });
    await run(continued.at(-1)?.task as ErasureTask);
    expect(current().status).toBe('running');
    clock = created + 24 * HOUR;
    expect(await run(continued.at(-1)?.task as ErasureTask)).toEqual({
      status: 'completed',
      providerLeft: ['SMstuck'],
    });
    expect(current().progress).toMatchObject({
      providerMessagesDeleted: 1,
      providerMessagesPending: 0,
      providerMessagesLeft: 1,
    });
  });

  it('a failing Twilio call (an outage) is retried on the same cadence, not failed towards the dead letters', async () => {
    const { deps, continued, current } = fakeDeps({ sids: ['SMa', 'SMb'] });
    let down = true;
    const provider = await deps.providerMessages('acme');
    const flaky = {
      ...deps,
      providerMessages: async () => ({
        delete: (sid: string) =>
          down ? Promise.reject(new Error('HTTP 503 (20500)')) : provider.delete(sid),
      }),
    };
    await erasePerson(
      flaky,
      { tenantId: 'acme', erasureId: current().erasureId, phone: PHONE },
      Date.now() + 60_000,
    );
    expect(await erasePerson(flaky, continued.at(-1)?.task as ErasureTask, Date.now() + 60_000)).toEqual({
      status: 'continued',
      providerError: 'HTTP 503 (20500)',
    });
    expect(continued.at(-1)?.delaySeconds).toBe(900);
    expect(current()).toMatchObject({ status: 'running', progress: { providerMessagesPending: 2 } });
    down = false;
    expect(await erasePerson(flaky, continued.at(-1)?.task as ErasureTask, Date.now() + 60_000)).toEqual({
      status: 'completed',
    });
    expect(current().progress).toMatchObject({ providerMessagesDeleted: 2, providerMessagesPending: 0 });
  });

  it('hands the rest of the deletions on at once when the invocation runs out of time', async () => {
    const { deps, continued, providerDeletes, current } = fakeDeps({ sids: ['SM1', 'SM2'] });
    const task = { tenantId: 'acme', erasureId: current().erasureId, phone: PHONE };
    await erasePerson(deps, task, Date.now() + 60_000);
    expect(await erasePerson(deps, continued.at(-1)?.task as ErasureTask, 0)).toEqual({
      status: 'continued',
    });
    expect(continued.at(-1)).toEqual({ task: { ...task, final: true }, delaySeconds: 0 });
    expect(providerDeletes).toEqual([]);
    expect(current().providerPending).toEqual(['SM1', 'SM2']);
    expect(await erasePerson(deps, continued.at(-1)?.task as ErasureTask, Date.now() + 60_000)).toEqual({
      status: 'completed',
    });
    expect(current().progress.providerMessagesDeleted).toBe(2);
  });
});
