import { describe, expect, it } from 'vitest';
import {
  approvalOf,
  categoryOf,
  pageOfTemplates,
  type Template,
  templateOf,
  templatePosition,
} from '../../functions/core/content-templates.ts';

// The mapping from what Twilio's Content API answers (twilio-python's ContentAndApprovals fixture,
// the ApprovalRequests example of Twilio's changelog) to the contract's template item.

const SID = 'HX5fcd48a417c1cb59da349ad6d5da4607';

describe('templateOf', () => {
  it('maps a ContentAndApprovals item (approval_requests flat) to the API item', () => {
    const template = templateOf(
      {
        sid: SID,
        friendlyName: 'Media Test',
        language: 'en',
        variables: { '1': 'name', '2': 'typedocument' },
        types: {
          'twilio/media': {
            body: '{{1}}, Congratulations {{2}}! For additional assistance, please contact us at hello@twilio.com',
            media: ['https://example.com/template'],
          },
        },
        dateCreated: new Date('2023-01-13T23:33:46Z'),
        dateUpdated: new Date('2023-01-14T08:00:00Z'),
      },
      {
        category: 'TRANSACTIONAL',
        status: 'approved',
        rejection_reason: '',
        name: 'Media Test',
        content_type: 'twilio/media',
        allow_category_change: false,
      },
    );
    expect(template).toEqual({
      contentSid: SID,
      friendlyName: 'Media Test',
      language: 'en',
      category: 'UTILITY',
      approval: 'approved',
      variables: { '1': 'name', '2': 'typedocument' },
      body: '{{1}}, Congratulations {{2}}! For additional assistance, please contact us at hello@twilio.com',
      contentTypes: ['twilio/media'],
      createdAt: '2023-01-13T23:33:46.000Z',
      updatedAt: '2023-01-14T08:00:00.000Z',
    });
  });

  it('reads ApprovalRequests (under whatsapp), keeps a rejection reason, and the quick-reply buttons in order', () => {
    const template = templateOf(
      {
        sid: SID,
        friendlyName: 'offer',
        language: 'pt_BR',
        variables: { '1': 'Dana' },
        types: {
          'twilio/text': { body: 'Fallback text {{1}}' },
          'twilio/quick-reply': {
            body: 'Hello {{1}}, tap below',
            actions: [
              { id: 'read_broadcast', title: 'Read more' },
              { id: 'stop_promotions', title: 'Stop promotions' },
              { title: 'no id' },
            ],
          },
        },
        dateCreated: '2026-02-20T10:00:00Z',
      },
      {
        whatsapp: {
          type: 'whatsapp',
          name: 'offer',
          category: 'marketing',
          status: 'rejected',
          rejection_reason: 'INVALID_FORMAT',
          flows: null,
        },
      },
    );
    expect(template).toMatchObject({
      language: 'pt_BR',
      category: 'MARKETING',
      approval: 'rejected',
      rejectionReason: 'INVALID_FORMAT',
      // The WhatsApp template's text, not the SMS fallback's.
      body: 'Hello {{1}}, tap below',
      buttons: [
        { id: 'read_broadcast', title: 'Read more' },
        { id: 'stop_promotions', title: 'Stop promotions' },
      ],
      contentTypes: ['twilio/text', 'twilio/quick-reply'],
      createdAt: '2026-02-20T10:00:00.000Z',
    });
    expect(template.updatedAt).toBeUndefined();
  });

  it('reads a template never submitted (no approval, empty fields) as unsubmitted with no category', () => {
    const bare = { sid: SID, friendlyName: null, language: null, variables: null, types: null };
    expect(templateOf(bare, undefined)).toEqual({
      contentSid: SID,
      friendlyName: '',
      language: '',
      category: null,
      approval: 'unsubmitted',
      variables: {},
      body: '',
      contentTypes: [],
    });
    expect(
      templateOf(bare, {
        name: '',
        category: '',
        content_type: '',
        status: 'unsubmitted',
        rejection_reason: '',
      }).category,
    ).toBeNull();
  });

  it("takes a card's QUICK_REPLY actions as buttons, not its URL ones, and shows samples as text", () => {
    const template = templateOf(
      {
        sid: SID,
        variables: { '1': 7 },
        types: {
          'twilio/card': {
            title: 'Card title',
            actions: [
              { type: 'URL', title: 'Open', url: 'https://example.com' },
              { type: 'QUICK_REPLY', title: 'Yes', id: 'yes' },
            ],
          },
        },
      },
      { status: 'approved', category: 'UTILITY' },
    );
    expect(template).toMatchObject({
      body: 'Card title',
      buttons: [{ id: 'yes', title: 'Yes' }],
      variables: { '1': '7' },
    });
  });
});

describe('approvalOf and categoryOf', () => {
  it("read Twilio's statuses as the contract's; received waits for Meta like pending; an unknown one is never approved", () => {
    expect(['approved', 'pending', 'rejected', 'paused', 'disabled', 'unsubmitted'].map(approvalOf)).toEqual([
      'approved',
      'pending',
      'rejected',
      'paused',
      'disabled',
      'unsubmitted',
    ]);
    expect(approvalOf('received')).toBe('pending');
    expect(approvalOf('APPROVED')).toBe('approved');
    expect(approvalOf('')).toBe('unsubmitted');
    expect(approvalOf(undefined)).toBe('unsubmitted');
    expect(approvalOf('in_appeal')).toBe('pending');
  });

  it("maps Meta's categories, and the pre-2023 TRANSACTIONAL and OTP to UTILITY and AUTHENTICATION", () => {
    expect(categoryOf('MARKETING')).toBe('MARKETING');
    expect(categoryOf('utility')).toBe('UTILITY');
    expect(categoryOf('AUTHENTICATION')).toBe('AUTHENTICATION');
    expect(categoryOf('TRANSACTIONAL')).toBe('UTILITY');
    expect(categoryOf('OTP')).toBe('AUTHENTICATION');
    expect(categoryOf('')).toBeNull();
    expect(categoryOf(null)).toBeNull();
  });
});

const t = (n: number, fields: Partial<Template> = {}): Template => ({
  contentSid: `HX${String(n).padStart(32, '0')}`,
  friendlyName: `t${n}`,
  language: 'en',
  category: 'UTILITY',
  approval: 'approved',
  variables: {},
  body: 'x',
  contentTypes: ['twilio/text'],
  createdAt: `2026-01-${String(n).padStart(2, '0')}T00:00:00.000Z`,
  ...fields,
});

describe('pageOfTemplates', () => {
  const all = [t(1), t(2, { approval: 'pending' }), t(3, { category: 'MARKETING' }), t(4), t(5)];

  it('pages newest first after a position, and says when there is more', () => {
    const first = pageOfTemplates(all, { limit: 2 });
    expect(first.items.map((x) => x.friendlyName)).toEqual(['t5', 't4']);
    expect(first.last?.friendlyName).toBe('t4');
    const second = pageOfTemplates(all, { limit: 2, after: templatePosition(first.last as Template) });
    expect(second.items.map((x) => x.friendlyName)).toEqual(['t3', 't2']);
    const third = pageOfTemplates(all, { limit: 2, after: templatePosition(second.last as Template) });
    expect(third).toEqual({ items: [t(1)] });
  });

  it('a full last page has no `last`; a position that no longer exists still pages on from where it was', () => {
    expect(pageOfTemplates(all, { limit: 5 }).last).toBeUndefined();
    const withoutT4 = all.filter((x) => x.friendlyName !== 't4');
    const next = pageOfTemplates(withoutT4, { limit: 10, after: templatePosition(t(4)) });
    expect(next.items.map((x) => x.friendlyName)).toEqual(['t3', 't2', 't1']);
  });

  it('filters by approval and by category', () => {
    expect(pageOfTemplates(all, { limit: 10, filter: { approval: 'pending' } }).items).toEqual([all[1]]);
    expect(pageOfTemplates(all, { limit: 10, filter: { category: 'MARKETING' } }).items).toEqual([all[2]]);
    expect(
      pageOfTemplates(all, { limit: 10, filter: { approval: 'approved', category: 'UTILITY' } }).items.map(
        (x) => x.friendlyName,
      ),
    ).toEqual(['t5', 't4', 't1']);
  });

  it('orders templates created at the same moment by SID', () => {
    const same = [t(2, { createdAt: 'x' }), t(1, { createdAt: 'x' })];
    expect(pageOfTemplates(same, { limit: 5 }).items.map((x) => x.friendlyName)).toEqual(['t1', 't2']);
  });
});
