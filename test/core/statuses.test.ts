import { describe, expect, it } from 'vitest';
import { emptyCounts } from '../../functions/core/counts.ts';
import {
  BROADCAST_STATUSES,
  canAdvance,
  canCancel,
  canRetry,
  finalBroadcastStatus,
  IN_FLIGHT,
  isProcessed,
  providerStatusToRecipient,
  RECIPIENT_STATUSES,
  type RecipientStatus,
  statusesBelow,
  statusRank,
} from '../../functions/core/statuses.ts';

function counts(partial: Partial<Record<RecipientStatus, number>>) {
  return { ...emptyCounts(), ...partial };
}

/** Applies a sequence of reported statuses the way the store does: only forward moves land. */
function replay(start: RecipientStatus, reports: RecipientStatus[]): RecipientStatus {
  let current = start;
  for (const to of reports) if (canAdvance(current, to)) current = to;
  return current;
}

describe('status lists', () => {
  it('lists recipient statuses in the order of API.md', () => {
    expect(RECIPIENT_STATUSES).toEqual([
      'pending',
      'queued',
      'sending',
      'sent',
      'delivered',
      'read',
      'failed',
      'undelivered',
      'cancelled',
      'skipped',
    ]);
    expect(BROADCAST_STATUSES).toEqual([
      'scheduled',
      'accepted',
      'queued',
      'running',
      'paused',
      'completed',
      'partial',
      'failed',
      'cancelled',
    ]);
  });

  it('ranks the forward line and makes cancelled/skipped terminal', () => {
    const line: RecipientStatus[] = ['pending', 'queued', 'sending', 'sent', 'failed', 'delivered', 'read'];
    for (let i = 1; i < line.length; i++) {
      expect(statusRank(line[i] as RecipientStatus)).toBeGreaterThan(
        statusRank(line[i - 1] as RecipientStatus),
      );
    }
    expect(statusRank('failed')).toBe(statusRank('undelivered'));
    expect(statusRank('cancelled')).toBe(100);
    expect(statusRank('skipped')).toBe(100);
  });
});

describe('canAdvance: a status never moves backwards', () => {
  it('a delivered after read changes nothing', () => {
    expect(canAdvance('read', 'delivered')).toBe(false);
    expect(replay('sending', ['sent', 'read', 'delivered'])).toBe('read');
  });

  it('a duplicate callback changes nothing', () => {
    for (const s of RECIPIENT_STATUSES) expect(canAdvance(s, s)).toBe(false);
  });

  it('reordered callbacks end in the furthest status', () => {
    expect(replay('sending', ['delivered', 'sent'])).toBe('delivered');
    expect(replay('sending', ['read', 'sent', 'delivered'])).toBe('read');
  });

  it('a late sent does not undo a failure, and failed/undelivered do not replace each other', () => {
    expect(replay('sending', ['failed', 'sent'])).toBe('failed');
    expect(canAdvance('failed', 'undelivered')).toBe(false);
    expect(canAdvance('undelivered', 'failed')).toBe(false);
  });

  it('a failure after delivery is not believed; a delivery after a failure is', () => {
    expect(canAdvance('delivered', 'failed')).toBe(false);
    expect(canAdvance('read', 'undelivered')).toBe(false);
    expect(canAdvance('undelivered', 'delivered')).toBe(true);
  });

  it('nothing moves a recipient out of cancelled or skipped', () => {
    for (const to of RECIPIENT_STATUSES) {
      expect(canAdvance('cancelled', to)).toBe(false);
      expect(canAdvance('skipped', to)).toBe(false);
    }
  });

  it('cancels only what was not handed to the provider yet', () => {
    expect(canAdvance('pending', 'cancelled')).toBe(true);
    expect(canAdvance('queued', 'cancelled')).toBe(true);
    expect(canAdvance('sending', 'cancelled')).toBe(false);
    expect(canAdvance('sent', 'cancelled')).toBe(false);
    expect(canCancel('queued')).toBe(true);
    expect(canCancel('delivered')).toBe(false);
  });

  it('skips (suppression) only before the provider call', () => {
    expect(canAdvance('queued', 'skipped')).toBe(true);
    expect(canAdvance('sending', 'skipped')).toBe(true);
    expect(canAdvance('sent', 'skipped')).toBe(false);
  });

  it('gives the statuses a conditional write may start from', () => {
    expect(statusesBelow('delivered')).toEqual([
      'pending',
      'queued',
      'sending',
      'sent',
      'failed',
      'undelivered',
    ]);
    expect(statusesBelow('read')).toContain('delivered');
  });

  it('the retry move is separate: only failed and undelivered go back to queued', () => {
    expect(canAdvance('failed', 'queued')).toBe(false);
    expect(canRetry('failed')).toBe(true);
    expect(canRetry('undelivered')).toBe(true);
    for (const s of RECIPIENT_STATUSES.filter((x) => x !== 'failed' && x !== 'undelivered')) {
      expect(canRetry(s)).toBe(false);
    }
  });
});

describe('providerStatusToRecipient', () => {
  it('maps Twilio MessageStatus values', () => {
    expect(providerStatusToRecipient('sent')).toBe('sent');
    expect(providerStatusToRecipient('delivered')).toBe('delivered');
    expect(providerStatusToRecipient('read')).toBe('read');
    expect(providerStatusToRecipient('failed')).toBe('failed');
    expect(providerStatusToRecipient('undelivered')).toBe('undelivered');
    expect(providerStatusToRecipient('canceled')).toBe('failed');
  });

  it('ignores statuses that only say Twilio holds the message, and unknown ones', () => {
    for (const s of [
      'queued',
      'accepted',
      'scheduled',
      'sending',
      'receiving',
      'received',
      'something-new',
      '',
    ]) {
      expect(providerStatusToRecipient(s)).toBeUndefined();
    }
  });
});

describe('isProcessed', () => {
  it('is false exactly for pending, queued and sending', () => {
    expect(IN_FLIGHT).toEqual(['pending', 'queued', 'sending']);
    for (const s of RECIPIENT_STATUSES) expect(isProcessed(s)).toBe(!IN_FLIGHT.includes(s));
  });
});

describe('finalBroadcastStatus', () => {
  const done = { retryPending: false };

  it('3 recipients, 2 sent and 1 failed → partial', () => {
    expect(finalBroadcastStatus(counts({ sent: 2, failed: 1 }), done)).toBe('partial');
  });

  it('every recipient sent or beyond → completed', () => {
    expect(finalBroadcastStatus(counts({ sent: 1, delivered: 3, read: 2 }), done)).toBe('completed');
  });

  it('skipped recipients do not spoil completed; all skipped is completed', () => {
    expect(finalBroadcastStatus(counts({ delivered: 3, skipped: 2 }), done)).toBe('completed');
    expect(finalBroadcastStatus(counts({ skipped: 4 }), done)).toBe('completed');
  });

  it('none succeeded → failed', () => {
    expect(finalBroadcastStatus(counts({ failed: 2, undelivered: 1 }), done)).toBe('failed');
    expect(finalBroadcastStatus(counts({ failed: 2, skipped: 1 }), done)).toBe('failed');
  });

  it('cancelled recipients count as not succeeded', () => {
    expect(finalBroadcastStatus(counts({ sent: 2, cancelled: 1 }), done)).toBe('partial');
    expect(finalBroadcastStatus(counts({ cancelled: 3 }), done)).toBe('failed');
  });

  it('is not final while anyone is pending, queued or sending', () => {
    expect(finalBroadcastStatus(counts({ sent: 2, pending: 1 }), done)).toBeUndefined();
    expect(finalBroadcastStatus(counts({ sent: 2, queued: 1 }), done)).toBeUndefined();
    expect(finalBroadcastStatus(counts({ sent: 2, sending: 1 }), done)).toBeUndefined();
  });

  it('is not final while a retry is scheduled', () => {
    expect(finalBroadcastStatus(counts({ sent: 2, undelivered: 1 }), { retryPending: true })).toBeUndefined();
  });

  it('has nothing to decide with no recipient counted', () => {
    expect(finalBroadcastStatus(emptyCounts(), done)).toBeUndefined();
  });
});
