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

function fakeDeps() {
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
      deleteHistory: async () => 2,
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
    continueWith: async (task, delaySeconds) => {
      continued.push({ task, ...(delaySeconds !== undefined ? { delaySeconds } : {}) });
    },
    settleSeconds: 60,
  };
  return { deps, saved, continued, current: () => stored };
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
