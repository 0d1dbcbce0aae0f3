import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postSigned, problemText, signatureFor } from '../lib/local/twilio-simulator/webhook.ts';

/** The simulator's webhook POST (lib/local/twilio-simulator/webhook.ts) against a plain local server. */
let server: Server;
let base: string;
let connections = 0;
const received: { signature: string | undefined; body: string }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url?.startsWith('/hang')) return; // never answers
      received.push({
        signature: request.headers['x-twilio-signature'] as string | undefined,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(request.url?.startsWith('/fail') ? 500 : 200, { 'content-type': 'text/xml' });
      response.end('<Response/>');
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const options = { authToken: 'a'.repeat(32), timeoutMs: 2_000, idempotencyToken: 'SM1-sent' };

describe('the simulator posting a signed webhook', () => {
  it('posts the form signed over the exact URL, answers with the status and, when asked, the body, over one kept-alive connection', async () => {
    const url = `${base}/status?b=brd_1&i=0`;
    const params = { MessageSid: 'SM1', MessageStatus: 'sent' };
    const first = await postSigned(url, params, { ...options, readBody: true });
    expect(first).toEqual({ status: 200, ok: true, body: '<Response/>' });
    expect(received.at(-1)).toEqual({
      signature: signatureFor(options.authToken, url, params),
      body: 'MessageSid=SM1&MessageStatus=sent',
    });
    const before = connections;
    expect(await postSigned(`${base}/fail`, params, options)).toEqual({ status: 500, ok: false, body: '' });
    expect(await postSigned(url, params, options)).toMatchObject({ ok: true });
    expect(connections).toBe(before);
  });

  it('fails a POST nobody answers within its timeout, and one nobody listens for, saying why', async () => {
    const hung = await postSigned(`${base}/hang`, {}, { ...options, timeoutMs: 200 }).catch(
      (e: unknown) => e,
    );
    expect(problemText(hung)).toMatch(/no answer from 127\.0\.0\.1:\d+ within 200 ms/);
    const refused = await postSigned('http://127.0.0.1:9/status', {}, options).catch((e: unknown) => e);
    expect(problemText(refused)).toMatch(/ECONNREFUSED/);
  });
});
