// A local stand-in for Twilio's Messages API, so the product runs with no Twilio account. It speaks
// Twilio's REST shapes (the real twilio SDK works against it through createTwilioClient({ apiBaseUrl })),
// checks Basic auth, rate-limits per sender, posts signed status callbacks, and behaves by the last four
// digits of the destination (see scenario.ts and API.md "Local run contract"); template parameters
// WhatsApp refuses get Twilio's answer (functions/core/template-parameters.ts). Control routes under
// /_simulator/ play the contact: tap a quick-reply button or write, posted signed to `inboundUrl`, which
// opens the 24-hour window that free-form (Body, no ContentSid) messages need (see inbound.ts), or
// unsubscribe (every later create to the number answers 400/21610).
// It also serves Twilio's Content API (content-api.ts) with its sample templates (content.ts), and a
// message's ContentSid is checked against them as Twilio checks it against the account's templates.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isUsNumber } from '../../functions/core/template-check.ts';
import { contentVariablesViolation, TWILIO_ANSWERS } from '../../functions/core/template-parameters.ts';
import type { FaultInjector } from './faults/injector.ts';
import { portError } from './free-port.ts';
import { Accounts, accountResource, serviceResource } from './twilio-simulator/accounts.ts';
import { ContentStore, type SimulatedTemplate } from './twilio-simulator/content.ts';
import { contentRequest, isContentPath } from './twilio-simulator/content-api.ts';
import { SimulatorFaults } from './twilio-simulator/faults.ts';
import { InboundControl } from './twilio-simulator/inbound.ts';
import { Lifecycle } from './twilio-simulator/lifecycle.ts';
import { SlidingWindowLimiter } from './twilio-simulator/rate-limit.ts';
import {
  API_VERSION,
  errorBody,
  listPage,
  newMessageSid,
  parseListQuery,
  type SimulatedInbound,
  type SimulatedMessage,
  toMessageResource,
} from './twilio-simulator/resources.ts';

import { ERRORS, maskPhone, planOutcome, type RestError } from './twilio-simulator/scenario.ts';
import { LOG_FILE, MessageStore } from './twilio-simulator/store.ts';

export type { SimulatedTemplate } from './twilio-simulator/content.ts';
export { SAMPLE_TEMPLATES } from './twilio-simulator/content.ts';
export type { SimulatedInbound, SimulatedMessage } from './twilio-simulator/resources.ts';
export { lastFourDigits, maskPhone, planOutcome } from './twilio-simulator/scenario.ts';

/** A route's answer: its status and JSON body, headers of its own, and what starts once it is out. */
interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  readonly after?: () => void;
}

export interface TwilioSimulatorOptions {
  /** 0 = any free port; default 3010. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * The main account: the Basic auth user, whose paths exist with those of the subaccounts it makes
   * (POST /2010-04-01/Accounts.json, twilio-simulator/accounts.ts), each with its own token.
   */
  accountSid: string;
  /** The main account's Basic auth password; also signs its messages' status callbacks. */
  authToken: string;
  /** Per-sender creates per rolling second (SIM_MPS); default 80. */
  mps?: number;
  /** How long create takes to answer (SIM_LATENCY_MS); default 20. */
  latencyMs?: number;
  /** Base delay between status steps (±20 % jitter); default 150. */
  callbackDelayMs?: number;
  /** Delays before the retries of a failed status callback POST; default [250, 1000] (two retries). */
  callbackRetryDelaysMs?: number[];
  /**
   * When set, the message log (and the inbound messages, so the 24-hour windows) is kept in
   * `dataDir/twilio-simulator.jsonl`, and the templates added with POST /_simulator/templates in
   * `dataDir/twilio-simulator-content.jsonl`: both survive a restart.
   */
  dataDir?: string;
  /**
   * The sender used for messages sent through a Messaging Service, and the one a simulated contact
   * writes to by default; default whatsapp:+14155238886.
   */
  defaultFrom?: string;
  /**
   * Where inbound WhatsApp messages are posted (signed, form-encoded), as Twilio does to the sender's
   * webhook; the product's `/webhooks/twilio/inbound`. Without it the inbound controls answer 409.
   */
  inboundUrl?: string;
  /** The simulator's clock (message dates, the 24-hour window); default the real one. */
  now?: () => Date;
  /**
   * The status callbacks a previous run left unfinished resume once this resolves; default at once.
   * The local twin passes its readiness: until then its API answers 503 STARTING, and a callback
   * refused three times is given up.
   */
  resumeWhen?: Promise<unknown>;
  /** TWIN_FAULTS: the twilio.* rules are played here (twilio-simulator/faults.ts). */
  faults?: FaultInjector;
  /** How long twilio.timeout holds a create's answer (SIM_TIMEOUT_HOLD_MS); default 12,000 ms. */
  timeoutHoldMs?: number;
  log?: (line: string) => void;
}

export interface TwilioSimulator {
  url: string;
  port: number;
  accountSid: string;
  authToken: string;
  /** Everything accepted so far, oldest first (copies). */
  messages(): SimulatedMessage[];
  /**
   * How many messages are held (accepted, not deleted): no copy, so it is cheap to poll. Copying
   * thousands of messages takes tens of milliseconds of the one event loop the twin shares.
   */
  messageCount(): number;
  /**
   * The messages accepted for one destination, `to` exactly as sent (`whatsapp:+…`), oldest first:
   * copies of those only, from an index. For tests that check hundreds of recipients one by one:
   * `messages()` and a filter for each would copy everything each time and hold the twin's one
   * event loop for seconds, long enough for sends in flight to time out.
   */
  messagesTo(to: string): SimulatedMessage[];
  /** The inbound messages (taps and texts) posted so far, oldest first (copies). */
  inbound(): SimulatedInbound[];
  /**
   * The person at this number (`+…` or `whatsapp:+…`) unsubscribed from the senders, as
   * POST /_simulator/unsubscribe: every later create to it answers 400, code 21610, and creates
   * nothing. Kept in the message log, so across restarts.
   */
  unsubscribe(phone: string): void;
  /** How many people unsubscribed so far, those kept from earlier runs included. */
  unsubscribedCount(): number;
  /** The account's Content templates (the samples and those added), newest first (copies). */
  templates(): SimulatedTemplate[];
  /** Closes the server, cancels steps not yet due (a restart resumes them) and waits for callbacks in flight. */
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const MESSAGE_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/;
/** Final statuses: a message in one has its delivery receipt (or never will), and Twilio deletes it. */
const DELETABLE_STATUSES = new Set(['delivered', 'read', 'undelivered', 'failed', 'canceled']);
const ACCOUNTS_PATH = '/2010-04-01/Accounts.json';
const ACCOUNT_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\.json$/;
/** Messaging Services (messaging.twilio.com/v1/Services/{Sid}), served beside the Content API's /v1/ paths. */
const SERVICE_PATH = /^\/v1\/Services\/(MG[0-9a-fA-F]{32})$/;
const TAP_PATH = /^\/_simulator\/messages\/([^/]+)\/tap$/;
/** Twilio 63049, https://www.twilio.com/docs/api/errors/63049. */
const MARKETING_NOT_DELIVERED = {
  status: 'failed',
  errorCode: 63049,
  errorMessage: 'Meta chose not to deliver this WhatsApp marketing message',
} as const;

class HttpError extends Error {
  readonly error: RestError;

  constructor(error: RestError) {
    super(error.message);
    this.error = error;
  }
}

export async function startTwilioSimulator(options: TwilioSimulatorOptions): Promise<TwilioSimulator> {
  const { accountSid, authToken } = options;
  const log = options.log ?? ((line: string) => console.log(`[twilio-simulator] ${line}`));
  const latencyMs = options.latencyMs ?? 20;
  const defaultFrom = options.defaultFrom ?? 'whatsapp:+14155238886';
  const now = options.now ?? (() => new Date());
  const limiter = new SlidingWindowLimiter(options.mps ?? 80);
  const store = await MessageStore.open(options.dataDir, log);
  const unsubscribe = (to: string) => {
    store.unsubscribe(to);
    log(`${maskPhone(to)} unsubscribed: every create to it answers 400 (21610)`);
  };
  const contents = await ContentStore.open(options.dataDir, now, log);
  const faults = options.faults
    ? new SimulatorFaults(options.faults, { timeoutHoldMs: options.timeoutHoldMs })
    : undefined;
  const accounts = new Accounts({ accountSid, authToken }, options.dataDir, now);
  const lifecycle = new Lifecycle({
    authToken: (sid) => accounts.tokenOf(sid),
    stepDelayMs: options.callbackDelayMs ?? 150,
    ...(options.callbackRetryDelaysMs ? { retryDelaysMs: options.callbackRetryDelaysMs } : {}),
    now,
    onChange: (m) => store.updated(m),
    ...(faults ? { callbackFate: (m: SimulatedMessage) => faults.callbackFate(m) } : {}),
    log,
  });
  const inbound = new InboundControl({
    accountSid,
    authToken,
    // A sender is the account's that sent from it last (its messages name it).
    accountFor: (sender) => {
      const sid = [...store.all()].reverse().find((m) => m.from === sender)?.accountSid ?? accountSid;
      return { accountSid: sid, authToken: accounts.tokenOf(sid) };
    },
    inboundUrl: options.inboundUrl,
    defaultFrom,
    now,
    store,
    log,
  });
  async function create(form: URLSearchParams, ownerSid: string): Promise<Answer> {
    const param = (name: string) => form.get(name) || undefined;
    const to = param('To');
    const from = param('From');
    const messagingServiceSid = param('MessagingServiceSid');
    const body = param('Body');
    const contentSid = param('ContentSid');
    const contentVariables = param('ContentVariables');
    const statusCallback = param('StatusCallback');
    const validityPeriod = param('ValidityPeriod');
    const invalid = (code: number, message: string) => new HttpError({ httpStatus: 400, code, message });
    if (!to) throw invalid(21604, "A 'To' phone number is required.");
    if (!from && !messagingServiceSid) throw invalid(21603, "A 'From' phone number is required.");
    if (!body && !contentSid && !form.get('MediaUrl')) throw invalid(21602, 'Message body is required.');
    // Twilio 21655 (https://www.twilio.com/docs/api/errors/21655): malformed, deleted, or another account's.
    const template = contentSid ? contents.get(contentSid) : undefined;
    if (contentSid && !template) throw invalid(21655, 'The ContentSid is Invalid.');
    if (contentVariables !== undefined && !isJsonObject(contentVariables)) {
      throw invalid(21656, 'The ContentVariables Parameter is invalid.');
    }
    // WhatsApp's parameter rules, the product's own (functions/core/template-parameters.ts), answered as Twilio does.
    const parameterProblem =
      contentSid && contentVariables !== undefined
        ? contentVariablesViolation(contentVariableValues(contentVariables))
        : undefined;
    const twilioAnswer = parameterProblem && TWILIO_ANSWERS[parameterProblem.violation.rule];
    if (parameterProblem && twilioAnswer?.at === 'create') {
      log(
        `create to ${maskPhone(to)}: ContentVariables "${parameterProblem.variable}" ${parameterProblem.violation.message}, answered 400 (${twilioAnswer.code})`,
      );
      throw invalid(twilioAnswer.code, twilioAnswer.message);
    }
    if (statusCallback !== undefined && !/^https?:\/\/[^/?#]+/i.test(statusCallback)) {
      throw invalid(21609, 'Invalid StatusCallback URL.');
    }
    if (
      validityPeriod !== undefined &&
      !(/^\d+$/.test(validityPeriod) && +validityPeriod >= 1 && +validityPeriod <= 36000)
    ) {
      throw invalid(21624, 'Invalid validity period value');
    }

    const sender = from ?? messagingServiceSid ?? '';
    if (!limiter.tryAcquire(sender)) {
      log(`429 for sender ${maskPhone(sender)}: over ${options.mps ?? 80} messages per second`);
      throw new HttpError(ERRORS.tooManyRequests());
    }
    // WhatsApp allows free-form messages only within 24 hours of the contact's last message to the sender,
    // and a template it has not approved is free-form to it (Twilio 63016).
    const outsideWindow =
      template?.approval !== 'approved' &&
      to.startsWith('whatsapp:') &&
      !inbound.windowOpen(to, from ?? defaultFrom);
    // Meta does not deliver marketing templates to US numbers (Twilio 63049; functions/core/template-check.ts).
    const marketingRefused =
      template?.category === 'MARKETING' &&
      to.startsWith('whatsapp:') &&
      isUsNumber(to.slice('whatsapp:'.length));
    if (store.isUnsubscribed(to)) {
      log(`create to ${maskPhone(to)} answered 400 (21610): the person unsubscribed`);
      throw new HttpError(ERRORS.unsubscribed());
    }
    const outcome = planOutcome(to, {
      firstTryDone: store.hadFirstTry(to),
      viaMessagingService: messagingServiceSid !== undefined,
      outsideWindow,
      ...(twilioAnswer?.at === 'delivery'
        ? {
            contentRefused: {
              status: 'failed',
              errorCode: twilioAnswer.code,
              errorMessage: twilioAnswer.message,
            },
          }
        : marketingRefused
          ? { contentRefused: MARKETING_NOT_DELIVERED }
          : {}),
    });
    if (outcome.kind === 'reject') {
      if (outcome.rememberFirstTry) store.rememberFirstTry(to);
      log(
        `create to ${maskPhone(to)} answered ${outcome.error.httpStatus} (${outcome.error.code}), nothing created`,
      );
      throw new HttpError(outcome.error);
    }

    const at = now().toISOString();
    const message: SimulatedMessage = {
      sid: newMessageSid(),
      accountSid: ownerSid,
      to,
      from: from ?? defaultFrom,
      messagingServiceSid: messagingServiceSid ?? null,
      body: body ?? '',
      contentSid: contentSid ?? null,
      contentVariables: contentVariables ?? null,
      statusCallback: statusCallback ?? null,
      validityPeriod: validityPeriod === undefined ? null : Number(validityPeriod),
      status: outcome.initialStatus,
      errorCode: null,
      errorMessage: null,
      dateCreated: at,
      dateUpdated: at,
      // Set at acceptance (not at `sent`) so a list by DateSent right after an ambiguous answer finds it.
      dateSent: at,
      history: [{ status: outcome.initialStatus, at }],
      pendingSteps: outcome.steps,
    };
    store.add(message);
    if (parameterProblem && twilioAnswer?.at === 'delivery') {
      log(
        `create ${message.sid} to ${maskPhone(to)}: ContentVariables "${parameterProblem.variable}" ${parameterProblem.violation.message}, it will fail with ${twilioAnswer.code}`,
      );
    }
    if (outsideWindow) {
      log(
        `create ${message.sid} to ${maskPhone(to)}: ${template ? `template ${template.approval}, so ` : ''}free-form outside the 24-hour window, it will fail with 63016`,
      );
    } else if (marketingRefused) {
      log(
        `create ${message.sid} to ${maskPhone(to)}: a marketing template to a US number, it will fail with 63049`,
      );
    }
    // Steps start once the answer is out (see handle()), so the product knows the SID before its first callback.
    const after = () => lifecycle.resume(message);
    if (outcome.error) {
      log(`create ${message.sid} to ${maskPhone(to)} answered ${outcome.error.httpStatus} although created`);
      return { status: outcome.error.httpStatus, body: errorBody(outcome.error), after };
    }
    return { status: 201, body: toMessageResource(message), after };
  }

  async function route(req: IncomingMessage, url: URL): Promise<Answer> {
    // HEAD is GET without the body (Node's server leaves it out): wherever GET is answered.
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    // A control route's other methods: 405 with the ones it takes (RFC 9110 §15.5.6).
    const controlNotAllowed = (allow: string): Answer => ({
      status: 405,
      body: { error: `${method} is not allowed on ${url.pathname}; use ${allow}` },
      headers: { Allow: allow },
    });
    const readOnly = url.pathname === '/_simulator/health' || url.pathname === '/_simulator/messages';
    if (readOnly && method !== 'GET') return controlNotAllowed('GET, HEAD');
    if (url.pathname === '/_simulator/health') {
      return {
        status: 200,
        body: {
          ok: true,
          messages: store.size,
          pendingSteps: lifecycle.pending,
          unsubscribed: store.unsubscribedCount,
        },
      };
    }
    if (url.pathname === '/_simulator/messages') return { status: 200, body: store.all() };
    if (url.pathname === '/_simulator/inbound') {
      if (method === 'GET') return inbound.list();
      if (method === 'POST') return inbound.inbound(await readText(req));
      return controlNotAllowed('GET, HEAD, POST');
    }
    if (url.pathname === '/_simulator/templates') {
      if (method === 'GET') return { status: 200, body: contents.newestFirst() };
      if (method === 'POST') {
        const text = await readText(req);
        let input: unknown;
        try {
          input = JSON.parse(text);
        } catch {
          return { status: 400, body: { error: 'The body must be a JSON object.' } };
        }
        const added = contents.add(input);
        if (added.status === 201) {
          const t = added.body as SimulatedTemplate;
          log(`template ${t.contentSid} (${t.friendlyName}, ${t.category}, ${t.approval}) added`);
        }
        return added;
      }
      return controlNotAllowed('GET, HEAD, POST');
    }
    if (url.pathname === '/_simulator/unsubscribe') {
      if (method !== 'POST') return controlNotAllowed('POST');
      let input: unknown;
      try {
        input = JSON.parse(await readText(req));
      } catch {
        input = undefined;
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input))
        return { status: 400, body: { error: 'The body must be a JSON object: { "to": "+…" }.' } };
      const to = whatsAppAddress((input as { to?: unknown }).to);
      if (!to)
        return {
          status: 400,
          body: { error: '"to" must be a phone number in E.164 form, e.g. "+972501234567"' },
        };
      unsubscribe(to);
      return { status: 200, body: { to, unsubscribed: true } };
    }
    const tap = TAP_PATH.exec(url.pathname);
    if (tap) {
      if (method !== 'POST') return controlNotAllowed('POST');
      return inbound.tap(tap[1] ?? '', await readText(req));
    }
    const notFound = () =>
      new HttpError({
        httpStatus: 404,
        code: 20404,
        message: `The requested resource ${url.pathname} was not found`,
      });
    const content = isContentPath(url.pathname);
    if (!url.pathname.startsWith(`/${API_VERSION}/`) && !content) throw notFound();
    const caller = accounts.authenticated(req);
    if (!caller) {
      throw new HttpError({ httpStatus: 401, code: 20003, message: 'Authenticate' });
    }
    const service = SERVICE_PATH.exec(url.pathname);
    if (service) {
      if (method !== 'GET')
        throw new HttpError({ httpStatus: 405, code: 20004, message: 'Method not allowed' });
      return { status: 200, body: serviceResource(service[1] ?? '', caller.sid) };
    }
    if (content) {
      const answer = contentRequest(contents, caller.sid, method, url);
      if ('error' in answer) throw new HttpError(answer.error);
      return answer;
    }
    if (url.pathname === ACCOUNTS_PATH) {
      // Subaccounts are made with the main account's credentials only.
      if (method !== 'POST' || caller.sid !== accountSid)
        throw new HttpError({ httpStatus: 405, code: 20004, message: 'Method not allowed' });
      const made = accounts.create((await readForm(req)).get('FriendlyName') ?? undefined, now());
      log(`subaccount ${made.sid} created`);
      return { status: 201, body: accountResource(made) };
    }
    const account = ACCOUNT_PATH.exec(url.pathname);
    if (account) {
      const found = accounts.get(account[1] ?? '');
      if (!found || !accounts.reaches(caller, found.sid)) throw notFound();
      return { status: 200, body: accountResource(found) };
    }
    const list = MESSAGES_PATH.exec(url.pathname);
    const one = MESSAGE_PATH.exec(url.pathname);
    const pathAccount = list?.[1] ?? one?.[1] ?? '';
    if (!accounts.reaches(caller, pathAccount)) throw notFound();
    const notAllowed = () => new HttpError({ httpStatus: 405, code: 20004, message: 'Method not allowed' });
    if (list && method === 'POST') {
      const form = await readForm(req);
      const refused = faults?.refuseCreate();
      if (refused) throw new HttpError(refused);
      const answer = await create(form, pathAccount);
      await sleep(latencyMs);
      return faults ? faults.answerCreated(answer) : answer;
    }
    if (list && method === 'GET') {
      const query = parseListQuery(url.searchParams);
      if ('httpStatus' in query) throw new HttpError(query);
      const own = (function* () {
        for (const m of store.newestFirst(query.to)) if (m.accountSid === pathAccount) yield m;
      })();
      return { status: 200, body: listPage(own, query, pathAccount) };
    }
    if (one && method === 'GET') {
      const message = store.get(one[2] ?? '');
      if (!message || message.accountSid !== pathAccount) throw notFound();
      return { status: 200, body: toMessageResource(message) };
    }
    if (one && method === 'DELETE') {
      const sid = one[2] ?? '';
      const message = store.get(sid);
      const inbound = message ? undefined : store.getInbound(sid);
      const owner = message?.accountSid ?? (inbound ? (inbound.params.AccountSid ?? accountSid) : undefined);
      if (owner !== pathAccount) throw notFound();
      // Twilio keeps a message until it is final: an outbound one still waiting for its delivery
      // receipt (sent, or earlier) is refused with 20009 (https://www.twilio.com/docs/api/errors/20009).
      if (message && !DELETABLE_STATUSES.has(message.status))
        throw new HttpError({
          httpStatus: 409,
          code: 20009,
          message: 'Cannot delete this resource before it is complete',
        });
      store.remove(sid);
      log(`message ${sid} deleted`);
      return { status: 204, body: undefined };
    }
    throw notAllowed();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.local');
    let answer: Answer;
    try {
      answer = await route(req, url);
    } catch (error) {
      if (!(error instanceof HttpError))
        log(`internal error on ${req.method} ${url.pathname}: ${String(error)}`);
      const rest = error instanceof HttpError ? error.error : ERRORS.internal();
      if (req.method === 'POST' && MESSAGES_PATH.test(url.pathname)) await sleep(latencyMs);
      answer = { status: rest.httpStatus, body: errorBody(rest) };
    }
    const payload = answer.status === 204 ? '' : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(payload),
      'Twilio-Request-Id': `RQ${randomBytes(16).toString('hex')}`,
      ...(answer.status === 401 ? { 'WWW-Authenticate': 'Basic realm="Twilio API"' } : {}),
      ...answer.headers,
      // An answer held until stop() (twilio.timeout) must not leave its connection open behind it.
      ...(stopped ? { Connection: 'close' } : {}),
    });
    const { after } = answer;
    if (after) {
      // The steps start once the answer is written, or, when the client has already gone (its own
      // timeout, under load), at the moment it would have been: Twilio goes on with such a message
      // all the same, and its callbacks are what settle it. end()'s own callback never runs on a
      // closed connection.
      let started = false;
      const start = () => {
        if (started) return;
        started = true;
        after();
      };
      res.once('finish', start);
      res.once('close', start);
      if (res.destroyed) start();
    }
    res.end(payload);
  }

  let stopped: Promise<void> | undefined;
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`request failed: ${String(error)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const refuse = (error: NodeJS.ErrnoException) =>
      reject(portError(error, options.port ?? 3010, 'TWILIO_SIMULATOR_PORT'));
    server.once('error', refuse);
    server.listen(options.port ?? 3010, host, () => {
      server.off('error', refuse);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const publicHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${publicHost}:${port}`;

  const unfinished = store.all().filter((m) => m.pendingSteps.length > 0);
  const resume = () => {
    for (const m of unfinished) lifecycle.resume(m);
  };
  if (options.resumeWhen) void options.resumeWhen.then(resume, () => {});
  else resume();
  const resumed = unfinished.length;
  const where = options.dataDir ? `, log ${options.dataDir}/${LOG_FILE}` : '';
  const inboundTo = options.inboundUrl ? `inbound messages go to ${options.inboundUrl}` : 'no inboundUrl';
  log(
    `listening on ${url} (${store.size} message(s), ${store.inbound().length} inbound and ${store.unsubscribedCount} unsubscribed number(s) loaded, ${resumed} resumed, ${contents.newestFirst().length} Content templates${where}; ${inboundTo})`,
  );

  return {
    url,
    port,
    accountSid,
    authToken,
    messages: () => structuredClone([...store.all()]),
    messageCount: () => store.size,
    unsubscribedCount: () => store.unsubscribedCount,
    messagesTo: (to) => structuredClone([...store.newestFirst(to)].reverse()),
    inbound: () => structuredClone([...store.inbound()]),
    unsubscribe: (phone) => {
      const to = whatsAppAddress(phone);
      if (!to) throw new Error(`not a phone number in E.164 form: ${maskPhone(phone)}`);
      unsubscribe(to);
    },
    templates: () => structuredClone(contents.newestFirst()),
    stop: () => {
      stopped ??= (async () => {
        faults?.release();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await lifecycle.stop();
        await store.close();
        contents.close();
      })();
      return stopped;
    },
  };
}

/** A ContentVariables JSON object's values as text; `null`, objects and arrays count as no value. */
function contentVariableValues(text: string): Record<string, string | null> {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(parsed).map(([key, value]) => [
      key,
      typeof value === 'string'
        ? value
        : typeof value === 'number' || typeof value === 'boolean'
          ? String(value)
          : null,
    ]),
  );
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams(await readText(req));
}

/** `+972…` or `whatsapp:+972…` as the create's `To` names a WhatsApp number; undefined for anything else. */
function whatsAppAddress(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const phone = value.startsWith('whatsapp:') ? value.slice('whatsapp:'.length) : value;
  return /^\+[1-9][0-9]{6,14}$/.test(phone) ? `whatsapp:${phone}` : undefined;
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError({ httpStatus: 413, code: 20001, message: 'Request too large' });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
