import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { CONSOLE_STATIC_HEADERS, consoleCsp } from '../console-headers.ts';

/** Where `npm run build` writes the console (console/vite.config.ts). */
export const CONSOLE_DIST = path.resolve(import.meta.dirname, '../../console/dist');
export const CONSOLE_PATH = '/console/';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/**
 * Serves the built console at /console/ on the API's origin (API.md, "The console"), as CloudFront
 * does on AWS: static files with the same security headers; everything else goes to `next` (the
 * API Gateway emulation). Only GET and HEAD; no directory listings; nothing outside `distDir`.
 */
export function withConsole(
  next: (req: IncomingMessage, res: ServerResponse) => void,
  distDir: string = CONSOLE_DIST,
): (req: IncomingMessage, res: ServerResponse) => void {
  const root = path.resolve(distDir);
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname !== '/console' && !url.pathname.startsWith(CONSOLE_PATH)) return next(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return plain(res, 405, 'Method Not Allowed', { allow: 'GET, HEAD' });
    if (url.pathname === '/console') return plain(res, 308, '', { location: `${CONSOLE_PATH}${url.search}` });
    let relative: string;
    try {
      relative = decodeURIComponent(url.pathname.slice(CONSOLE_PATH.length)) || 'index.html';
    } catch {
      return plain(res, 400, 'Bad path');
    }
    // On AWS the stack writes config.json naming the API (lib/console-site.ts); here the API is this
    // origin, which the console takes from a config without apiBaseUrl (not a 404 in its console).
    if (relative === 'config.json' && !existsSync(path.join(root, relative))) {
      const body = '{}\n';
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-cache',
        ...CONSOLE_STATIC_HEADERS,
      });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    const file = path.resolve(root, relative);
    if (file !== root && !file.startsWith(`${root}${path.sep}`)) return plain(res, 404, 'Not Found');
    if (!existsSync(path.join(root, 'index.html')))
      return plain(res, 503, 'The console is not built: run `npm run build` (npm start builds it).');
    if (!existsSync(file) || !statSync(file).isFile()) return plain(res, 404, 'Not Found');
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, {
      'content-type': type,
      'content-length': statSync(file).size,
      // Hashed asset names never change content; the page and config are checked every time.
      'cache-control': relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      'content-security-policy': consoleCsp(),
      ...CONSOLE_STATIC_HEADERS,
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  };
}

function plain(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    ...CONSOLE_STATIC_HEADERS,
    ...headers,
  });
  res.end(text);
}
