// The simulator's behaviour table (docs: API.md "Local run contract"), as a pure function of the
// destination number (and of whether a free-form message is outside the 24-hour window, or its
// content refused by WhatsApp). The HTTP layer
// asks it what to do; nothing here touches I/O or clocks.

export type MessageStatus =
  | 'accepted'
  | 'queued'
  | 'sending'
  | 'sent'
  | 'delivered'
  | 'read'
  | 'failed'
  | 'undelivered'
  | 'canceled';

/** One status change after creation; each one is posted as a status callback. */
export interface PlannedStep {
  status: MessageStatus;
  errorCode?: number;
  errorMessage?: string;
}

export interface RestError {
  httpStatus: number;
  code: number;
  message: string;
}

export type PlannedOutcome =
  /** Nothing is created; the create call answers with this error. */
  | { kind: 'reject'; error: RestError; rememberFirstTry?: boolean }
  /**
   * The message is created in `initialStatus` (no callback for that one, as with Twilio) and then walks
   * through `steps`; the create call answers 201, or `error` if set.
   */
  | { kind: 'accept'; initialStatus: MessageStatus; steps: PlannedStep[]; error?: RestError };

export interface ScenarioContext {
  /** Whether this destination already had its one-time `0005` rejection. */
  firstTryDone: boolean;
  /** Sent through a Messaging Service: starts `accepted`, then `queued` once a sender is picked. */
  viaMessagingService?: boolean;
  /**
   * A free-form message (no ContentSid) to a WhatsApp contact who has not written to this sender in the
   * last 24 hours: accepted, then `failed` with 63016, whatever the last four digits (bar the REST-level
   * answers: 0003 and the first 0005 are still rejected, 0004 still answers 500).
   */
  outsideWindow?: boolean;
  /**
   * WhatsApp refuses the content although the create was accepted (a template parameter over its
   * length, Twilio 63021): accepted, then `failed` with this step, whatever the last four digits
   * (bar the REST-level answers, as for `outsideWindow`).
   */
  contentRefused?: PlannedStep;
}

export const ERRORS = {
  invalidTo: (to: string): RestError => ({
    httpStatus: 400,
    code: 21211,
    message: `The 'To' number ${to} is not a valid phone number.`,
  }),
  /** The person unsubscribed from this sender at Twilio (Twilio error 21610; TWILIO.md: suppress). */
  unsubscribed: (): RestError => ({
    httpStatus: 400,
    code: 21610,
    message: 'Attempt to send to unsubscribed recipient',
  }),
  tooManyRequests: (): RestError => ({ httpStatus: 429, code: 20429, message: 'Too Many Requests' }),
  internal: (): RestError => ({ httpStatus: 500, code: 20500, message: 'Internal Server Error' }),
} as const;

const UNREACHABLE: PlannedStep = {
  status: 'undelivered',
  errorCode: 30003,
  errorMessage: 'Unreachable destination handset',
};
const OUTSIDE_WINDOW: PlannedStep = {
  status: 'failed',
  errorCode: 63016,
  errorMessage:
    'Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template.',
};
const NOT_ON_WHATSAPP: PlannedStep = {
  status: 'failed',
  errorCode: 63024,
  errorMessage: 'Invalid message recipient',
};

/** The last four digits of a destination, whatever its prefix (`whatsapp:+…`, `+…`). */
export function lastFourDigits(to: string): string {
  return to.replace(/\D/g, '').slice(-4);
}

export function planOutcome(to: string, context: ScenarioContext): PlannedOutcome {
  const accept = (planned: PlannedStep[], error?: RestError): PlannedOutcome => {
    const steps = context.outsideWindow
      ? [OUTSIDE_WINDOW]
      : context.contentRefused
        ? [context.contentRefused]
        : planned;
    return {
      kind: 'accept',
      initialStatus: context.viaMessagingService ? 'accepted' : 'queued',
      steps: context.viaMessagingService ? [{ status: 'queued' }, ...steps] : steps,
      ...(error ? { error } : {}),
    };
  };
  const delivered: PlannedStep[] = [{ status: 'sent' }, { status: 'delivered' }, { status: 'read' }];
  switch (lastFourDigits(to)) {
    case '0001':
      return accept([{ status: 'sent' }, UNREACHABLE]);
    case '0002':
      return accept([{ status: 'sent' }, NOT_ON_WHATSAPP]);
    case '0003':
      return { kind: 'reject', error: ERRORS.invalidTo(to) };
    case '0004':
      return accept(delivered, ERRORS.internal());
    case '0005':
      return context.firstTryDone
        ? accept(delivered)
        : { kind: 'reject', error: ERRORS.tooManyRequests(), rememberFirstTry: true };
    case '0009':
      return accept([{ status: 'sent' }]);
    default:
      return accept(delivered);
  }
}

/** All but the last four digits masked: `whatsapp:+*******8886`. For logs only. */
export function maskPhone(value: string | null | undefined): string {
  if (!value) return String(value);
  const digits = value.replace(/\D/g, '').length;
  let seen = 0;
  return value.replace(/\d/g, (d) => (++seen > digits - 4 ? d : '*'));
}
