import { TwilioMessenger } from '../adapters/twilio-messenger.ts';
import type { Broadcast, Messenger } from '../core/ports.ts';
import { senderAddressOf } from '../core/tenant-senders.ts';
import { intEnv } from './config.ts';
import { credentialsFor } from './tenant-twilio-wiring.ts';

/**
 * The Twilio messengers, for the functions that call Twilio (send, sweeper): one per Twilio account
 * and sender, so each broadcast sends from the sender it was created with (its snapshot: a tenant's
 * own account and sender, or the deployment's). Kept apart from wiring.ts so that every other
 * function's bundle leaves the twilio SDK out.
 */

/**
 * Twilio's REST timeout for one send (TWILIO_TIMEOUT_MS, default 10 s): short enough that a batch fits
 * well inside the send function's timeout. A send past it is an ambiguous outcome, reconciled, never
 * resent blindly.
 */
const DEFAULT_SEND_TIMEOUT_MS = 10_000;
/**
 * A tenant's own account's messenger is built anew this often, so a token changed with PUT
 * /v1/settings/twilio is used within that time (its secret is read through a cache of the same age).
 */
const OWN_ACCOUNT_REUSE_MS = 300_000;

const messengers = new Map<string, { messenger: Promise<Messenger>; builtAt: number }>();

/**
 * The messenger a broadcast sends with, built once its credentials are known (Secrets Manager on
 * AWS) and reused (with its Twilio client) per account and sender; rebuilt after a failure.
 */
export function twilioMessenger(broadcast?: Pick<Broadcast, 'tenantId' | 'sender'>): Promise<Messenger> {
  const sender = broadcast?.sender;
  // A tenant's own account is that tenant's: its key names the tenant too.
  const key = sender
    ? `${sender.accountSid ? `${broadcast.tenantId}/${sender.accountSid}` : 'deployment'}/${senderAddressOf(sender)}`
    : 'deployment';
  const cached = messengers.get(key);
  if (cached && !(sender?.accountSid && Date.now() - cached.builtAt > OWN_ACCOUNT_REUSE_MS))
    return cached.messenger;
  const messenger = credentialsFor(broadcast?.tenantId ?? '', sender)
    .then((credentials) => {
      const built = new TwilioMessenger({
        ...credentials,
        timeoutMs: intEnv('TWILIO_TIMEOUT_MS', DEFAULT_SEND_TIMEOUT_MS),
        ...(sender?.mps ? { mps: sender.mps } : {}),
      });
      // Not kept while unconfigured: the operator's fix (a token stored) is seen at the next try.
      if (!built.configured) messengers.delete(key);
      return built;
    })
    .catch((error: unknown) => {
      messengers.delete(key);
      throw error;
    });
  messengers.set(key, { messenger, builtAt: Date.now() });
  return messenger;
}
