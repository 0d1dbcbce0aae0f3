import { forgetKey, storedKey } from './session.ts';

/** API.md's error shape, thrown for any non-2xx answer. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly Record<string, unknown>[] = [],
  ) {
    super(message);
  }
}

type Listener = (message: string) => void;
let onUnauthorized: Listener = () => {};
/** Called with the API's message when a request answers 401: the app returns to sign-in. */
export function whenUnauthorized(listener: Listener): void {
  onUnauthorized = listener;
}

let base = '';
/**
 * The API's base URL: same origin locally (the twin serves the console at /console/); on AWS the
 * stack writes `config.json` beside the files with `{ "apiBaseUrl": "https://…" }`.
 */
export async function loadConfig(): Promise<void> {
  try {
    const res = await fetch('./config.json', { cache: 'no-store' });
    if (!res.ok) return;
    const config = (await res.json()) as { apiBaseUrl?: unknown };
    if (typeof config.apiBaseUrl === 'string') base = config.apiBaseUrl.replace(/\/+$/, '');
  } catch {
    // No config: the API is on this origin.
  }
}

export interface RequestOptions {
  body?: unknown;
  /** A CSV body (text/csv) instead of JSON. */
  csv?: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  /** A key to try instead of the stored one (sign-in). */
  apiKey?: string;
}

function urlOf(path: string, query: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return `${base}${path}${qs ? `?${qs}` : ''}`;
}

async function send(method: string, path: string, options: RequestOptions): Promise<Response> {
  const key = options.apiKey ?? storedKey();
  const headers: Record<string, string> = { ...options.headers };
  if (key) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (options.csv !== undefined) {
    headers['content-type'] = 'text/csv; charset=utf-8';
    body = options.csv;
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const res = await fetch(urlOf(path, options.query), { method, headers, body });
  if (res.ok) return res;
  let problem = new ApiProblem(res.status, 'HTTP_ERROR', `The server answered ${res.status}.`);
  try {
    const parsed = (await res.json()) as {
      error?: { code: string; message: string; details?: Record<string, unknown>[] };
    };
    if (parsed.error)
      problem = new ApiProblem(res.status, parsed.error.code, parsed.error.message, parsed.error.details);
  } catch {
    // Not JSON (a proxy's page): keep the status text.
  }
  if (res.status === 401 && options.apiKey === undefined) {
    forgetKey();
    onUnauthorized(problem.message);
  }
  throw problem;
}

/** One JSON call to the API; 204 answers `undefined`. Errors: ApiProblem. */
export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const res = await send(method, path, options);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/**
 * A CSV export, every page: the API pages CSV like JSON (`x-next-cursor`); each page repeats the
 * header row and starts with a BOM, which are dropped from the pages after the first.
 */
export async function exportCsv(path: string, query: Record<string, string | undefined>): Promise<string> {
  let cursor: string | undefined;
  let out = '';
  do {
    const res = await send('GET', path, { query: { ...query, format: 'csv', limit: 500, cursor } });
    let text = await res.text();
    if (out) text = text.replace(/^\uFEFF?[^\n]*\n/, '');
    out += text;
    cursor = res.headers.get('x-next-cursor') ?? undefined;
  } while (cursor);
  return out;
}

/** Follows `nextCursor` to the end (for small lists such as groups and templates), at most `max` items. */
export async function listAll<T>(path: string, query: Record<string, string> = {}, max = 2000): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await api<{ items: T[]; nextCursor?: string }>('GET', path, {
      query: { ...query, limit: 500, cursor },
    });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}
