import { api } from './api.ts';

let loaded: Promise<ReadonlySet<string>> | undefined;

/**
 * What this server can do, from its own OpenAPI document (GET /openapi.json, public): a set of
 * "METHOD /path" (API Gateway syntax). The console offers pause/resume and campaigns only where the
 * server has the routes (issue 13 adds them), instead of buttons that would answer 404.
 */
export function capabilities(): Promise<ReadonlySet<string>> {
  loaded ??= api<{ paths?: Record<string, Record<string, unknown>> }>('GET', '/openapi.json')
    .then((doc) => {
      const out = new Set<string>();
      for (const [path, ops] of Object.entries(doc.paths ?? {}))
        for (const method of Object.keys(ops)) out.add(`${method.toUpperCase()} ${path}`);
      return out as ReadonlySet<string>;
    })
    .catch(() => {
      loaded = undefined; // try again next time
      return new Set<string>();
    });
  return loaded;
}
