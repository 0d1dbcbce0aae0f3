import { Logger } from '@aws-lambda-powertools/logger';
import { maskPhone } from '../core/phones.ts';

/** One Logger per process, shared by the handlers (service name from POWERTOOLS_SERVICE_NAME). */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'whatsapp-broadcast',
});

/** What use cases log through: the Logger above (`log`), or a capturing stand-in in tests. */
export interface HandlerLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** The process's Logger as a HandlerLogger. */
export const log: HandlerLogger = {
  debug: (message, fields) => logger.debug(message, fields ?? {}),
  info: (message, fields) => logger.info(message, fields ?? {}),
  warn: (message, fields) => logger.warn(message, fields ?? {}),
  error: (message, fields) => logger.error(message, fields ?? {}),
};

/** Masks every phone-looking run of digits in free text (Twilio's error messages quote the To number). */
export function redactPhones(text: string): string {
  return text.replace(/\+?\d{7,15}/g, (digits) => maskPhone(digits));
}
