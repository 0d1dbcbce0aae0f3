import { describe, expect, it } from 'vitest';
import { historyEntriesOf, providerSuppression, skippedMessage } from '../../functions/core/contacts.ts';
import { canAdvanceFollowUp, decideTap, followUpCountsOf } from '../../functions/core/follow-up.ts';
import type { Recipient } from '../../functions/core/ports.ts';

const NOW = new Date('2026-11-23T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3600 * 1000).toISOString();

describe('decideTap', () => {
  const followUp = { body: 'Full text', confirmPayload: 'read_broadcast' };

  it('confirms the confirmPayload button inside 24 hours, and expires it after', () => {
    const tap = { followUp, buttonPayload: 'read_broadcast', now: NOW };
    expect(decideTap({ ...tap, templateSentAt: hoursAgo(23.9) })).toEqual({
      confirm: true,
      followUp: 'queued',
    });
    expect(decideTap({ ...tap, templateSentAt: hoursAgo(24.1) })).toEqual({
      confirm: true,
      followUp: 'expired',
    });
  });

  it('ignores other buttons, plain text and broadcasts without a follow-up', () => {
    const sent = hoursAgo(1);
    expect(decideTap({ followUp, buttonPayload: 'other', templateSentAt: sent, now: NOW })).toMatchObject({
      confirm: false,
      reason: 'other_button',
    });
    expect(decideTap({ followUp, buttonPayload: undefined, templateSentAt: sent, now: NOW })).toMatchObject({
      confirm: false,
      reason: 'not_a_tap',
    });
    expect(decideTap({ followUp, buttonPayload: '  ', templateSentAt: sent, now: NOW })).toMatchObject({
      confirm: false,
      reason: 'not_a_tap',
    });
    expect(
      decideTap({ followUp: undefined, buttonPayload: 'read_broadcast', templateSentAt: sent, now: NOW }),
    ).toMatchObject({ confirm: false, reason: 'no_follow_up' });
  });

  it('without a confirmPayload, any button confirms', () => {
    expect(
      decideTap({
        followUp: { body: 'x' },
        buttonPayload: 'anything',
        templateSentAt: hoursAgo(2),
        now: NOW,
      }),
    ).toEqual({ confirm: true, followUp: 'queued' });
  });
});

describe('follow-up statuses', () => {
  it('move forward only, and nothing leaves or enters expired', () => {
    expect(canAdvanceFollowUp('queued', 'sending')).toBe(true);
    expect(canAdvanceFollowUp('sent', 'read')).toBe(true);
    expect(canAdvanceFollowUp('read', 'delivered')).toBe(false);
    expect(canAdvanceFollowUp('queued', 'skipped')).toBe(true);
    expect(canAdvanceFollowUp('sent', 'cancelled')).toBe(false);
    expect(canAdvanceFollowUp('expired', 'sending')).toBe(false);
    expect(canAdvanceFollowUp('queued', 'expired')).toBe(false);
  });

  it('counts: awaiting is the templates that went out minus the confirmed', () => {
    const counts = followUpCountsOf({ confirmed: 3, sent: 1, read: 1, expired: 1 }, 10);
    expect(counts).toMatchObject({ awaitingConfirmation: 7, confirmed: 3, sent: 1, read: 1, expired: 1 });
    expect(counts.queued).toBe(0);
    expect(followUpCountsOf({ confirmed: 2 }, 1).awaitingConfirmation).toBe(0);
  });
});

describe('contact rules', () => {
  const recipient: Recipient = {
    tenantId: 't',
    broadcastId: 'brd_1',
    index: 7,
    phone: '+972501234567',
    status: 'sending',
    attempts: 1,
    claimedAt: '2026-11-23T10:00:00.000Z',
    followUp: { status: 'sending', claimedAt: '2026-11-23T11:00:00.000Z' },
    updatedAt: '2026-11-23T11:00:00.000Z',
  };

  it('a SID new to the ledger enters the history once, at its claim time, whichever path learned it', () => {
    const before = { ...recipient, followUp: { ...recipient.followUp } };
    const after = { ...recipient, messageSid: 'SM1', followUp: { ...recipient.followUp, messageSid: 'SM2' } };
    const [template, followUp] = historyEntriesOf(before, after);
    expect(template).toEqual({
      tenantId: 't',
      phone: '+972501234567',
      at: '2026-11-23T10:00:00.000Z',
      direction: 'outbound',
      type: 'broadcast',
      messageSid: 'SM1',
      broadcastId: 'brd_1',
      index: 7,
    });
    expect(followUp).toMatchObject({ at: '2026-11-23T11:00:00.000Z', type: 'follow_up', messageSid: 'SM2' });
    // A later change (delivered, read) of the same SIDs adds nothing.
    expect(historyEntriesOf(after, { ...after, updatedAt: '2026-11-23T12:00:00.000Z' })).toEqual([]);
  });

  it('21610 and 63014 suppress the number; other codes do not', () => {
    expect(providerSuppression(recipient, 21610, NOW)).toEqual({
      tenantId: 't',
      phone: '+972501234567',
      reason: 'provider_error',
      detail: '21610',
      createdAt: NOW.toISOString(),
    });
    expect(providerSuppression(recipient, 63014, NOW)?.reason).toBe('provider_error');
    expect(providerSuppression(recipient, 63024, NOW)).toBeUndefined();
    expect(providerSuppression(recipient, 30003, NOW)).toBeUndefined();
    expect(providerSuppression(recipient, undefined, NOW)).toBeUndefined();
    expect(skippedMessage({ reason: 'opt_out_keyword', detail: 'stop' })).toBe(
      'Suppressed (opt_out_keyword: stop)',
    );
  });
});
