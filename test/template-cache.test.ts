import { describe, expect, it } from 'vitest';
import { CachedTemplateRegistry } from '../functions/adapters/cached-template-registry.ts';
import {
  type Template,
  type TemplateRegistry,
  TemplateRegistryError,
} from '../functions/core/content-templates.ts';

// The container's template cache: what it saves Twilio, and that it never refuses a template that
// exists because of what it kept.

const template = (n: number, approval: Template['approval'] = 'approved'): Template => ({
  contentSid: `HX${String(n).padStart(32, '0')}`,
  friendlyName: `t${n}`,
  language: 'en',
  category: 'UTILITY',
  approval,
  variables: {},
  body: 'x',
  contentTypes: ['twilio/text'],
});

/** A registry over a list the test changes, counting the calls Twilio would get. */
function fakeTwilio(initial: Template[]) {
  const state = { templates: [...initial], lists: 0, gets: 0, failNext: false };
  const registry: TemplateRegistry = {
    async list() {
      state.lists += 1;
      if (state.failNext) {
        state.failNext = false;
        throw new TemplateRegistryError('unavailable', 'HTTP 503');
      }
      return [...state.templates];
    },
    async get(sid) {
      state.gets += 1;
      return state.templates.find((t) => t.contentSid === sid);
    },
  };
  return { state, registry };
}

describe('CachedTemplateRegistry', () => {
  it('reuses the list for the TTL, and reads it again after', async () => {
    let now = 1_000_000;
    const twilio = fakeTwilio([template(1)]);
    const cache = new CachedTemplateRegistry(twilio.registry, { ttlMs: 60_000, now: () => now });
    expect(await cache.list()).toEqual([template(1)]);
    twilio.state.templates.push(template(2));
    now += 59_999;
    expect(await cache.list()).toEqual([template(1)]);
    expect(twilio.state.lists).toBe(1);
    now += 1;
    expect(await cache.list()).toEqual([template(1), template(2)]);
    expect(twilio.state.lists).toBe(2);
  });

  it('shares one read between callers at the same moment, and keeps no failure', async () => {
    const twilio = fakeTwilio([template(1)]);
    const cache = new CachedTemplateRegistry(twilio.registry, { ttlMs: 60_000 });
    twilio.state.failNext = true;
    const [a, b] = await Promise.allSettled([cache.list(), cache.list()]);
    expect(a.status).toBe('rejected');
    expect(b.status).toBe('rejected');
    expect(twilio.state.lists).toBe(1);
    expect(await cache.list()).toEqual([template(1)]);
    expect(twilio.state.lists).toBe(2);
  });

  it('finds a template created after the list was kept: a miss asks Twilio for that SID, and keeps only what it found', async () => {
    let now = 0;
    const twilio = fakeTwilio([template(1)]);
    const cache = new CachedTemplateRegistry(twilio.registry, { ttlMs: 60_000, now: () => now });
    await cache.list();
    expect(await cache.get(template(1).contentSid)).toEqual(template(1));
    expect(twilio.state.gets).toBe(0);

    expect(await cache.get(template(2).contentSid)).toBeUndefined();
    twilio.state.templates.push(template(2));
    expect(await cache.get(template(2).contentSid)).toEqual(template(2));
    expect(twilio.state.gets).toBe(2);
    // Found once, it is kept for the TTL; after it, Twilio says what it is now (paused, say).
    twilio.state.templates[1] = template(2, 'paused');
    now += 30_000;
    expect((await cache.get(template(2).contentSid))?.approval).toBe('approved');
    now += 30_000;
    expect((await cache.get(template(2).contentSid))?.approval).toBe('paused');
    expect(twilio.state.gets).toBe(3);
  });

  it('with a TTL of 0 asks Twilio every time', async () => {
    const twilio = fakeTwilio([template(1)]);
    const cache = new CachedTemplateRegistry(twilio.registry, { ttlMs: 0 });
    await cache.list();
    await cache.list();
    await cache.get(template(1).contentSid);
    await cache.get(template(1).contentSid);
    expect([twilio.state.lists, twilio.state.gets]).toEqual([2, 2]);
  });

  it('keeps at most maxEntries single lookups, dropping the oldest', async () => {
    const twilio = fakeTwilio([template(1), template(2), template(3)]);
    const cache = new CachedTemplateRegistry(twilio.registry, { ttlMs: 60_000, maxEntries: 2 });
    for (const n of [1, 2, 3]) await cache.get(template(n).contentSid);
    await cache.get(template(3).contentSid);
    await cache.get(template(2).contentSid);
    expect(twilio.state.gets).toBe(3);
    await cache.get(template(1).contentSid);
    expect(twilio.state.gets).toBe(4);
  });
});
