import BaseTwilio from 'twilio/lib/base/BaseTwilio.js';
import Content from 'twilio/lib/rest/Content.js';
import {
  compareTemplates,
  type Template,
  type TemplateRegistry,
  TemplateRegistryError,
  templateOf,
} from '../core/content-templates.ts';
import { RebasedRequestClient } from './twilio-request-client.ts';

export interface TwilioTemplatesOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** The local simulator in place of https://content.twilio.com. */
  readonly apiBaseUrl?: string;
  /** Per request; a slower answer is TemplateRegistryError('unavailable'). */
  readonly timeoutMs?: number;
}

/**
 * The most templates one list reads (Twilio's largest page is 1,000; Meta allows a WhatsApp
 * Business Account 6,000 templates, 250 before its business is verified: Meta, "Template
 * limits"). A larger account is listed up to here, newest first.
 */
export const MAX_LISTED_TEMPLATES = 6000;
const PAGE_SIZE = 1000;

/**
 * The TemplateRegistry over Twilio's Content API through the twilio SDK (`content.v1`): the list
 * from ContentAndApprovals (a template and its WhatsApp approval in one item, 1,000 a page), one
 * template from `contents(sid).fetch()` with `approvalFetch()` beside it. Twilio's 404 is
 * "no such template"; 401/403 and every other failure become TemplateRegistryError.
 */
export class TwilioTemplateRegistry implements TemplateRegistry {
  readonly #content: Content;

  constructor(options: TwilioTemplatesOptions) {
    // The Content domain on the SDK's base client, as `twilio()` builds it, without the other ~40
    // domains: the bundle of a function that reads templates grows by ~0.4 MB instead of ~3.7 MB.
    const client = new BaseTwilio.Client(options.accountSid, options.authToken, {
      httpClient: new RebasedRequestClient(options.apiBaseUrl, options.timeoutMs),
      autoRetry: false,
    });
    this.#content = new Content(client);
  }

  async list(): Promise<readonly Template[]> {
    try {
      const items = await this.#content.v1.contentAndApprovals.list({
        pageSize: PAGE_SIZE,
        limit: MAX_LISTED_TEMPLATES,
      });
      return items.map((item) => templateOf(item, item.approvalRequests)).sort(compareTemplates);
    } catch (error) {
      throw registryError(error, 'list the Content templates');
    }
  }

  async get(contentSid: string): Promise<Template | undefined> {
    const content = this.#content.v1.contents(contentSid);
    try {
      const [resource, approval] = await Promise.all([
        content.fetch(),
        // A template never submitted to WhatsApp may have no approval to fetch.
        content
          .approvalFetch()
          .fetch()
          .then((a) => a.whatsapp as unknown)
          .catch((error: unknown) => {
            if (isNotFound(error)) return undefined;
            throw error;
          }),
      ]);
      return templateOf(resource, approval === undefined ? undefined : { whatsapp: approval });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw registryError(error, `fetch Content template ${contentSid}`);
    }
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { status?: unknown; code?: unknown } | null;
  return typeof e === 'object' && e !== null && (e.status === 404 || e.code === 20404);
}

/** What went wrong, for the error's message (never a credential): `HTTP 503 (20500) …` or `ETIMEDOUT …`. */
function registryError(error: unknown, doing: string): TemplateRegistryError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    status?: unknown;
    code?: unknown;
    message?: unknown;
  };
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (typeof e.status === 'number') {
    const code = typeof e.code === 'number' ? ` (${e.code})` : '';
    const kind = e.status === 401 || e.status === 403 ? 'unauthorized' : 'unavailable';
    return new TemplateRegistryError(
      kind,
      `Twilio answered HTTP ${e.status}${code} to ${doing}: ${message}`,
      {
        cause: error,
      },
    );
  }
  const code = typeof e.code === 'string' ? `${e.code}: ` : '';
  return new TemplateRegistryError('unavailable', `Could not ${doing}: ${code}${message}`, { cause: error });
}
