import { readFileSync } from 'node:fs';

/**
 * `npm run cli -- campaign …`: the campaign routes of the API (API.md "Campaigns") from a terminal,
 * on AWS (the stack's ApiUrl output) or on the local twin (http://127.0.0.1:3000 by default). The
 * answer is printed as the API gives it (JSON); an error prints its code, message and details and
 * exits 1. The API key comes from --api-key or API_KEY (never echoed).
 */

export const CAMPAIGN_USAGE = `  npm run cli -- campaign create --file <campaign.json> [--idempotency-key <key>] [--api-url <url>] [--api-key <key>]
  npm run cli -- campaign list [--limit <n>] [--cursor <c>]                  [--api-url <url>] [--api-key <key>]
  npm run cli -- campaign get|pause|resume|delete --id <cmp_…>              [--api-url <url>] [--api-key <key>]
  npm run cli -- campaign test-send --id <cmp_…> --phones <+p1,+p2,…>        [--api-url <url>] [--api-key <key>]`;

export const CAMPAIGN_NOTES = `campaign: --api-url defaults to API_URL, else http://127.0.0.1:\${PORT:-3000} (npm start); on AWS it is
the stack's ApiUrl output. --api-key defaults to API_KEY. The file is POST /v1/campaigns's JSON body.
test-send sends the campaign's message now to 1-10 phones (comma-separated), marked as a test.`;

export interface CampaignOptions {
  readonly file?: string | undefined;
  readonly id?: string | undefined;
  readonly phones?: string | undefined;
  readonly limit?: string | undefined;
  readonly cursor?: string | undefined;
  readonly 'api-url'?: string | undefined;
  readonly 'api-key'?: string | undefined;
  readonly 'idempotency-key'?: string | undefined;
}

/** A mistake in the command line (the caller prints the usage, exit code 2). */
export class CampaignUsageError extends Error {}

export async function campaignCommand(
  verb: string | undefined,
  options: CampaignOptions,
  env: NodeJS.ProcessEnv = process.env,
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const apiUrl = (options['api-url'] ?? env.API_URL ?? `http://127.0.0.1:${env.PORT || 3000}`).replace(
    /\/+$/,
    '',
  );
  const apiKey = options['api-key'] ?? env.API_KEY;
  if (!apiKey) throw new CampaignUsageError('Give the API key: --api-key <key> or API_KEY');
  let method: string;
  let route: string;
  let body: string | undefined;
  const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
  switch (verb) {
    case 'create':
      if (!options.file) throw new CampaignUsageError('Missing --file <campaign.json>');
      body = readFileSync(options.file, 'utf8');
      headers['content-type'] = 'application/json';
      if (options['idempotency-key']) headers['idempotency-key'] = options['idempotency-key'];
      [method, route] = ['POST', '/v1/campaigns'];
      break;
    case 'list': {
      const query = new URLSearchParams();
      if (options.limit) query.set('limit', options.limit);
      if (options.cursor) query.set('cursor', options.cursor);
      [method, route] = ['GET', `/v1/campaigns${query.size > 0 ? `?${query}` : ''}`];
      break;
    }
    case 'get':
    case 'pause':
    case 'resume':
    case 'delete': {
      if (!options.id) throw new CampaignUsageError(`Missing --id <cmp_…> (campaign ${verb})`);
      const path = `/v1/campaigns/${encodeURIComponent(options.id)}`;
      [method, route] =
        verb === 'get' ? ['GET', path] : verb === 'delete' ? ['DELETE', path] : ['POST', `${path}/${verb}`];
      break;
    }
    case 'test-send': {
      if (!options.id) throw new CampaignUsageError('Missing --id <cmp_…> (campaign test-send)');
      const testPhones = (options.phones ?? '')
        .split(',')
        .map((phone) => phone.trim())
        .filter(Boolean);
      if (testPhones.length === 0)
        throw new CampaignUsageError('Missing --phones <+p1,+p2,…> (campaign test-send: 1 to 10 phones)');
      body = JSON.stringify({ testPhones });
      headers['content-type'] = 'application/json';
      [method, route] = ['POST', `/v1/campaigns/${encodeURIComponent(options.id)}/test-send`];
      break;
    }
    default:
      throw new CampaignUsageError(`Unknown command: campaign ${verb ?? ''}`.trim());
  }
  let response: Response;
  try {
    response = await fetch(`${apiUrl}${route}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  } catch (error) {
    throw new Error(
      `Cannot reach the API at ${apiUrl} (${(error as Error).message}): is it running? (--api-url)`,
    );
  }
  const text = await response.text();
  if (response.ok) {
    out(
      text
        ? `${JSON.stringify(JSON.parse(text), null, 2)}\n`
        : `${verb === 'delete' ? 'Deleted.' : 'Done.'}\n`,
    );
    return 0;
  }
  let error: { code?: string; message?: string; details?: { path?: string; message: string }[] } = {};
  try {
    error = (JSON.parse(text) as { error: typeof error }).error ?? {};
  } catch {
    error = { message: text };
  }
  const details = (error.details ?? []).map((d) => `\n  ${d.path ? `${d.path}: ` : ''}${d.message}`).join('');
  throw new Error(
    `${response.status} ${error.code ?? ''} ${error.message ?? ''}${details}`.replace(/ {2,}/g, ' '),
  );
}
