import type { ProviderMessageDeletion } from '../core/erasure.ts';

/**
 * Deletes message records at Twilio (an erasure's last step): `DELETE
 * /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`, 204 when deleted (Twilio API reference,
 * Message resource, "Delete a Message resource"). A plain HTTPS call rather than the twilio SDK, so
 * the erasure worker's bundle stays small.
 *
 * Twilio deletes a message only once it is final: before its delivery receipt (a message still
 * `sent`), it answers error 20009 "Cannot delete this resource before it is complete", and asks to
 * wait a minute or more, in rare cases up to 14 days (https://www.twilio.com/docs/api/errors/20009).
 * That answer is read by its code, whatever its HTTP status.
 */
export class TwilioMessageDeletion implements ProviderMessageDeletion {
  readonly #accountSid: string;
  readonly #authorization: string;
  readonly #apiBaseUrl: string;
  readonly #timeoutMs: number;

  constructor(options: { accountSid: string; authToken: string; apiBaseUrl?: string; timeoutMs?: number }) {
    this.#accountSid = options.accountSid;
    this.#authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
    this.#apiBaseUrl = (options.apiBaseUrl ?? 'https://api.twilio.com').replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * `deleted` (204), `not_found` (404: never on this account, or deleted already), `not_final`
   * (20009: try again later). Anything else throws, naming the status and Twilio's code.
   */
  async delete(sid: string): Promise<'deleted' | 'not_found' | 'not_final'> {
    const url = `${this.#apiBaseUrl}/2010-04-01/Accounts/${this.#accountSid}/Messages/${encodeURIComponent(sid)}.json`;
    const response = await fetch(url, {
      method: 'DELETE',
      headers: { authorization: this.#authorization },
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    if (response.status === 204 || response.status === 200) return 'deleted';
    const body = (await response.json().catch(() => ({}))) as { code?: number; message?: string };
    if (body.code === 20009) return 'not_final';
    if (response.status === 404) return 'not_found';
    throw new Error(
      `Twilio refused to delete message ${sid}: HTTP ${response.status}${body.code ? ` (${body.code})` : ''}`,
    );
  }
}
