import { describe, expect, it } from 'vitest';
import { SenderPacer, slotIntervalMs } from '../../functions/core/pacing.ts';
import type { PaceState, SenderSchedule } from '../../functions/core/ports.ts';
import {
  senderAddressOf,
  senderView,
  snapshotOf,
  TenantSenderUpdate,
  whatsAppSender,
} from '../../functions/core/tenant-senders.ts';

const AC = `AC${'a1'.repeat(16)}`;
const MG = `MG${'b2'.repeat(16)}`;
const TOKEN = 'c3'.repeat(16);

const problems = (body: unknown) => {
  const parsed = TenantSenderUpdate.safeParse(body);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('PUT /v1/settings/twilio validation', () => {
  it('takes a WhatsApp sender (normalized to whatsapp:+E164) or a Messaging Service, with an own account', () => {
    expect(TenantSenderUpdate.parse({ from: '+14155550100' }).from).toBe('whatsapp:+14155550100');
    expect(TenantSenderUpdate.parse({ from: 'whatsapp:+972501234567', senderMps: 20 })).toEqual({
      from: 'whatsapp:+972501234567',
      senderMps: 20,
    });
    expect(problems({ messagingServiceSid: MG, accountSid: AC, authToken: TOKEN })).toEqual([]);
  });

  it('refuses malformed SIDs, numbers, tokens and rates, naming the field', () => {
    expect(problems({ from: '0501234567' })[0]).toMatch(/^from: must be a WhatsApp sender/);
    expect(problems({ messagingServiceSid: 'MG123' })[0]).toMatch(
      /^messagingServiceSid: .*MG followed by 32 hex/,
    );
    expect(
      problems({ from: '+14155550100', accountSid: `AC${'z'.repeat(32)}`, authToken: TOKEN })[0],
    ).toMatch(/^accountSid: .*AC followed by 32 hex/);
    expect(problems({ from: '+14155550100', accountSid: AC, authToken: 'short' })[0]).toMatch(/^authToken:/);
    expect(problems({ from: '+14155550100', senderMps: 1001 })[0]).toMatch(/^senderMps:/);
    expect(problems({ from: '+14155550100', surprise: 1 })).toHaveLength(1);
  });

  it('needs exactly one sender, and an account for a token', () => {
    expect(problems({})[0]).toMatch(/exactly one of from/);
    expect(problems({ from: '+14155550100', messagingServiceSid: MG })[0]).toMatch(/exactly one of from/);
    expect(problems({ from: '+14155550100', authToken: TOKEN })).toEqual([
      'accountSid: an authToken needs the accountSid it belongs to',
    ]);
  });

  it('never shows the token; a tenant without its own sender is on the deployment one', () => {
    expect(senderView(undefined, 80)).toEqual({ source: 'deployment', authTokenSet: false, senderMps: 80 });
    const own = { messagingServiceSid: MG, accountSid: AC, updatedAt: '2026-01-01T00:00:00.000Z' };
    expect(senderView(own, 80)).toEqual({ source: 'tenant', ...own, authTokenSet: true, senderMps: 80 });
    expect(JSON.stringify(senderView(own, 80))).not.toContain(TOKEN);
    expect(snapshotOf(undefined)).toBeUndefined();
    expect(snapshotOf({ ...own, senderMps: 20 })).toEqual({
      messagingServiceSid: MG,
      accountSid: AC,
      mps: 20,
    });
    expect(senderAddressOf({ from: 'whatsapp:+1' })).toBe('whatsapp:+1');
    expect(whatsAppSender('whatsapp:+0123')).toBeUndefined();
  });
});

/** One virtual clock per sender, in memory. */
class MemorySchedule implements SenderSchedule {
  readonly next = new Map<string, number>();
  async book(sender: string, r: { count: number; intervalMs: number; nowMs: number; horizonMs: number }) {
    const start = Math.max(this.next.get(sender) ?? 0, r.nowMs);
    this.next.set(sender, start + r.count * r.intervalMs);
    return { booked: true as const, firstSlotAt: start, state: {} as PaceState };
  }
  async cut() {
    return { cut: false, state: {} };
  }
}

describe('pacing per sender', () => {
  it("gives each sender its own budget at its own rate: one sender's traffic never slows another's", async () => {
    const pacer = new SenderPacer(new MemorySchedule(), { configuredMps: 80, now: () => 0 });
    const spanOf = async (sender: string, mps?: number) => {
      const paces = await Promise.all(Array.from({ length: 41 }, () => pacer.acquire(sender, 60_000, mps)));
      const at = paces.map((p) => (p.ok ? p.at : Number.NaN));
      return Math.max(...at) - Math.min(...at);
    };
    const [a, b, deployment] = await Promise.all([
      spanOf('whatsapp:+14155550100', 20),
      spanOf(MG, 20),
      spanOf('whatsapp:+14155238886'),
    ]);
    // 41 sends 40 intervals apart: ~2 s at 20/s each, side by side; the default sender at 80/s.
    expect(a).toBeCloseTo(40 * slotIntervalMs(20));
    expect(b).toBeCloseTo(40 * slotIntervalMs(20));
    expect(deployment).toBeCloseTo(40 * slotIntervalMs(80));
  });
});
