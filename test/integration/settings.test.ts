import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiTwin, startApiTwin } from '../support/api-twin.ts';

/** Issue 12: the tenant's settings (GET/PUT /v1/settings), defaults, partial changes, tenant isolation. */

const ACME = 'key-acme-settings-0123456789';
const GLOBEX = 'key-globex-settings-0123456789';

let api: ApiTwin;

beforeAll(async () => {
  api = await startApiTwin({ LOCAL_API_KEYS: `acme:${ACME},globex:${GLOBEX}` });
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

describe('tenant settings', () => {
  it('starts with the documented defaults and keeps a change for that tenant only', async () => {
    const before = await api.call('GET', '/v1/settings', { key: ACME });
    expect(before.status).toBe(200);
    expect(before.body).toEqual({ requireConsentForMarketing: false, messagingLimit: 'unlimited' });

    const put = await api.call('PUT', '/v1/settings', {
      key: ACME,
      body: { requireConsentForMarketing: true },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ requireConsentForMarketing: true });
    expect(Date.parse(put.body.updatedAt as string)).not.toBeNaN();

    expect((await api.call('GET', '/v1/settings', { key: ACME })).body).toMatchObject({
      requireConsentForMarketing: true,
    });
    // Another tenant of the same deployment is not affected.
    expect((await api.call('GET', '/v1/settings', { key: GLOBEX })).body).toEqual({
      requireConsentForMarketing: false,
      messagingLimit: 'unlimited',
    });
  });

  it("keeps Meta's messaging limit (a number of people, or unlimited) and refuses anything else", async () => {
    const tier = await api.call('PUT', '/v1/settings', { key: ACME, body: { messagingLimit: 2000 } });
    expect(tier.status).toBe(200);
    expect(tier.body).toMatchObject({ messagingLimit: 2000, requireConsentForMarketing: true });
    for (const wrong of [0, -5, 2.5, 'lots', null]) {
      const refused = await api.call('PUT', '/v1/settings', { key: ACME, body: { messagingLimit: wrong } });
      expect(refused.status).toBe(400);
      expect((refused.body.error as { details: { path: string }[] }).details[0]?.path).toBe('messagingLimit');
    }
    expect((await api.call('GET', '/v1/settings', { key: ACME })).body).toMatchObject({
      messagingLimit: 2000,
    });
    const back = await api.call('PUT', '/v1/settings', { key: ACME, body: { messagingLimit: 'unlimited' } });
    expect(back.body).toMatchObject({ messagingLimit: 'unlimited' });
    expect((await api.call('GET', '/v1/settings', { key: GLOBEX })).body).toMatchObject({
      messagingLimit: 'unlimited',
    });
  });

  it('refuses an unknown setting or a wrong type, and changes nothing', async () => {
    const typo = await api.call('PUT', '/v1/settings', { key: GLOBEX, body: { requireConsent: true } });
    expect(typo.status).toBe(400);
    expect(typo.body.error).toMatchObject({ code: 'VALIDATION_FAILED' });
    const wrongType = await api.call('PUT', '/v1/settings', {
      key: GLOBEX,
      body: { requireConsentForMarketing: 'yes' },
    });
    expect(wrongType.status).toBe(400);
    expect((wrongType.body.error as { details: { path: string }[] }).details[0]?.path).toBe(
      'requireConsentForMarketing',
    );
    expect((await api.call('GET', '/v1/settings', { key: GLOBEX })).body).toEqual({
      requireConsentForMarketing: false,
      messagingLimit: 'unlimited',
    });
  });

  it('needs a valid key', async () => {
    expect((await api.call('GET', '/v1/settings', { key: 'nope-0123456789' })).status).toBe(401);
  });
});
