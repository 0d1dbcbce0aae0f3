import { TwilioMessenger } from '../adapters/twilio-messenger.ts';
import type { Messenger } from '../core/ports.ts';
import { intEnv, twilioSettings } from './config.ts';

/**
 * The Twilio messenger, for the functions that call Twilio (send, sweeper). Kept apart from
 * wiring.ts so that every other function's bundle leaves the twilio SDK out.
 */

/**
 * Twilio's REST timeout for one send (TWILIO_TIMEOUT_MS, default 10 s): short enough that a batch fits
 * well inside the send function's timeout. A send past it is an ambiguous outcome, reconciled, never
 * resent blindly.
 */
const DEFAULT_SEND_TIMEOUT_MS = 10_000;

let messenger: Promise<Messenger> | undefined;

/** The messenger, built once the token is known (Secrets Manager on AWS); rebuilt after a failure. */
export function twilioMessenger(): Promise<Messenger> {
  messenger ??= twilioSettings()
    .then(
      (s) => new TwilioMessenger({ ...s, timeoutMs: intEnv('TWILIO_TIMEOUT_MS', DEFAULT_SEND_TIMEOUT_MS) }),
    )
    .catch((error: unknown) => {
      messenger = undefined;
      throw error;
    });
  return messenger;
}
