import type { Template, TemplateRegistry } from '../core/content-templates.ts';

export interface TemplateCacheOptions {
  /** How long a list or a template read from Twilio is reused, in ms; 0 reads every time. */
  readonly ttlMs: number;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
  /** Templates kept from single lookups (the oldest read is dropped first); default 1,000. */
  readonly maxEntries?: number;
}

/**
 * A TemplateRegistry that reuses what Twilio answered for `ttlMs`, per Lambda container:
 *
 * - `list()` keeps the whole list; callers at the same moment share one read.
 * - `get(sid)` answers from a template read by an earlier `get`, else from the kept list, else asks
 *   Twilio for that one SID. Only found templates are kept: a SID Twilio does not know is asked
 *   again next time, so a template created a moment ago (not in a list read before it existed) is
 *   found at once, never refused as unknown because of the cache.
 *
 * A failed read is not kept: the next call tries Twilio again.
 */
export class CachedTemplateRegistry implements TemplateRegistry {
  readonly #inner: TemplateRegistry;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #maxEntries: number;
  #list: { at: number; templates: readonly Template[]; bySid: Map<string, Template> } | undefined;
  #listing: Promise<readonly Template[]> | undefined;
  readonly #bySid = new Map<string, { at: number; template: Template }>();

  constructor(inner: TemplateRegistry, options: TemplateCacheOptions) {
    this.#inner = inner;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 1000;
  }

  list(): Promise<readonly Template[]> {
    const kept = this.#list;
    if (kept && this.#fresh(kept.at)) return Promise.resolve(kept.templates);
    this.#listing ??= this.#inner
      .list()
      .then((templates) => {
        this.#list = {
          at: this.#now(),
          templates,
          bySid: new Map(templates.map((t) => [t.contentSid, t])),
        };
        return templates;
      })
      .finally(() => {
        this.#listing = undefined;
      });
    return this.#listing;
  }

  async get(contentSid: string): Promise<Template | undefined> {
    const one = this.#bySid.get(contentSid);
    if (one && this.#fresh(one.at)) return one.template;
    const listed = this.#list && this.#fresh(this.#list.at) ? this.#list.bySid.get(contentSid) : undefined;
    if (listed) return listed;
    const template = await this.#inner.get(contentSid);
    if (template) {
      this.#bySid.delete(contentSid);
      this.#bySid.set(contentSid, { at: this.#now(), template });
      if (this.#bySid.size > this.#maxEntries) {
        const oldest = this.#bySid.keys().next().value;
        if (oldest !== undefined) this.#bySid.delete(oldest);
      }
    }
    return template;
  }

  #fresh(at: number): boolean {
    return this.#now() - at < this.#ttlMs;
  }
}
