import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { SqsTaskQueue } from './adapters/sqs-queues.ts';
import { optionalEnv, publicBaseUrl, retryBackoffSeconds, twilioAuthToken } from './commons/config.ts';
import { publishMetrics, serviceMetrics } from './commons/emf-metrics.ts';
import { emptyTwiml, errorResponse } from './commons/http.ts';
import { logger as defaultLogger, type HandlerLogger, log } from './commons/powertools.ts';
import { webhookTokenFor } from './commons/tenant-twilio-wiring.ts';
import { traceInvocation } from './commons/tracing.ts';
import { isValidTwilioSignature, twilioWebhookRequest, webhookUrlOn } from './commons/twilio-signature.ts';
import { contactStore, followUpLedger, messageIndex, sendLedger, sqs } from './commons/wiring.ts';
import { ApiError } from './core/errors.ts';
import type { TaskQueue } from './core/ports.ts';
import { applyStatusCallback, type StatusCallbackDeps } from './use-cases/status-callback.ts';

/**
 * Twilio's status callbacks, at the status callback function's URL (what every send names as its
 * StatusCallback: a Lambda Function URL on AWS, no API Gateway request per callback) and at
 * POST /webhooks/twilio/status (API.md). The signature is checked over the URL Twilio called, with the
 * token of the callback's AccountSid (a tenant's own subaccount signs with its own, and speaks only for
 * that tenant's messages: the URL's `t`); a callback the ledger cannot take now (DynamoDB throttling
 * or failing) is kept on the callback retry queue and answered 200, so a delivered or read report is
 * never lost to a failed write; only when that too fails does Twilio get a 500.
 */
export interface StatusWebhookDeps extends StatusCallbackDeps {
  readonly authToken: () => Promise<string | undefined>;
  /**
   * The token of the account a callback names (its AccountSid) and the tenant owning that account when
   * it is a tenant's own (commons/tenant-twilio-wiring.ts webhookTokenFor); without it, `authToken`.
   */
  readonly accountToken?: (
    accountSid: string | undefined,
  ) => Promise<{ token: string | undefined; accountOwner?: string }>;
  readonly publicBaseUrl: () => string;
  /** Callbacks to apply again later (the callback retry queue). */
  readonly retries?: TaskQueue<StoredCallback>;
  readonly logger: HandlerLogger;
}

/** A signed callback as kept for a later try: its form parameters and the query of its URL. */
export interface StoredCallback {
  readonly params: Record<string, string>;
  readonly query: string;
}

/**
 * The URLs Twilio may have signed for this request: the host the request reached (a Lambda Function
 * URL names itself in `requestContext.domainName`; `x-forwarded-proto` says the scheme), or the API's
 * public URL (PUBLIC_BASE_URL, which a custom domain in front of API Gateway needs). The host comes
 * first: nearly every callback is a message's own StatusCallback, the Function URL, and each URL tried
 * costs up to two HMACs (twilio-node tries it with and without the default port).
 */
export function calledUrls(event: APIGatewayProxyEventV2, publicBase: string): string[] {
  const urls: string[] = [];
  const host = event.requestContext?.domainName;
  if (host) urls.push(webhookUrlOn(event, `${event.headers?.['x-forwarded-proto'] ?? 'https'}://${host}`));
  urls.push(webhookUrlOn(event, publicBase));
  return [...new Set(urls)];
}

export function createStatusWebhookHandler(deps: StatusWebhookDeps) {
  const log = deps.logger;
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const request = twilioWebhookRequest(event, deps.publicBaseUrl());
    // The account the callback names picks the token that must have signed it (a tenant's own
    // subaccount signs with its own token); the signature covers AccountSid and the URL's tenant alike.
    const { token, accountOwner } = deps.accountToken
      ? await deps.accountToken(request.params.AccountSid)
      : { token: await deps.authToken(), accountOwner: undefined };
    const valid = calledUrls(event, deps.publicBaseUrl()).some((url) =>
      isValidTwilioSignature(token, { ...request, url }),
    );
    if (!valid) {
      deps.metrics?.record('TwilioAuthFailures', 1, { Source: 'webhook' });
      log.warn('status callback refused: missing or invalid X-Twilio-Signature', {
        path: event.rawPath,
        accountSid: request.params.AccountSid,
        hasSignature: Boolean(request.signature),
        tokenConfigured: Boolean(token),
      });
      return errorResponse(new ApiError('FORBIDDEN', 'Missing or invalid X-Twilio-Signature'));
    }
    // A tenant's own account speaks for that tenant's messages only.
    const named = request.query.get('t');
    if (accountOwner && named && named !== accountOwner) {
      log.warn("status callback refused: signed by a tenant's own account for another tenant's message", {
        accountSid: request.params.AccountSid,
        tenantId: named,
      });
      return errorResponse(new ApiError('FORBIDDEN', 'Missing or invalid X-Twilio-Signature'));
    }
    try {
      await applyStatusCallback(deps, { params: request.params, query: request.query });
    } catch (error) {
      if (!deps.retries) throw error;
      // Kept for later rather than lost: Twilio does not retry a status callback on its own.
      await deps.retries.enqueue([{ params: request.params, query: event.rawQueryString ?? '' }], {
        delaySeconds: 5,
      });
      log.warn('status callback kept for a later try: the ledger write failed', {
        messageSid: request.params.MessageSid,
        error: String(error),
      });
    }
    return emptyTwiml();
  };
}

let live: ReturnType<typeof createStatusWebhookHandler> | undefined;

export const handler = middy(
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      const retryQueueUrl = optionalEnv('CALLBACK_RETRY_QUEUE_URL');
      live ??= createStatusWebhookHandler({
        ledger: sendLedger(),
        followUps: followUpLedger(),
        messageIndex: messageIndex(),
        contacts: contactStore(),
        backoffSeconds: retryBackoffSeconds(),
        authToken: () => twilioAuthToken(),
        accountToken: (accountSid) => webhookTokenFor(accountSid),
        publicBaseUrl: () => publicBaseUrl(),
        ...(retryQueueUrl ? { retries: new SqsTaskQueue<StoredCallback>(sqs(), retryQueueUrl) } : {}),
        logger: log,
        metrics: serviceMetrics,
      });
      return await live(event);
    } catch (error) {
      defaultLogger.error('status callback failed', { error: error as Error });
      // 500: nothing was half-done; Twilio's own retry (if any) repeats a no-op or the move.
      return errorResponse(error);
    }
  },
)
  .use(injectLambdaContext(defaultLogger, { resetKeys: true }))
  .use(traceInvocation())
  .use(publishMetrics());
