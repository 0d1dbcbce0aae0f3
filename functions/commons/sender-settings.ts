import { checkTwilioSender } from '../adapters/twilio-account-check.ts';
import { ApiError, fromZodError } from '../core/errors.ts';
import { DEFAULT_SENDER_MPS } from '../core/pacing.ts';
import {
  senderAddressOf,
  senderView,
  TenantSenderUpdate,
  type TenantSenderViewShape,
} from '../core/tenant-senders.ts';
import { intEnv, twilioSettings } from './config.ts';
import { logger } from './powertools.ts';
import { tenantSenders, tenantTwilioSecrets } from './tenant-twilio-wiring.ts';

/**
 * GET, PUT and DELETE /v1/settings/twilio: the tenant's own WhatsApp sender and, optionally, its own
 * Twilio account (core/tenant-senders.ts). PUT replaces the setting whole and is checked against
 * Twilio before anything is written; the auth token goes to Secrets Manager and is never answered
 * or logged. A running broadcast keeps the sender it was created with.
 */
const defaultMps = () => intEnv('SENDER_MPS', DEFAULT_SENDER_MPS);

export async function getSender(tenantId: string): Promise<TenantSenderViewShape> {
  return senderView(await tenantSenders().get(tenantId), defaultMps());
}

export async function putSender(tenantId: string, body: unknown, now: Date): Promise<TenantSenderViewShape> {
  const parsed = TenantSenderUpdate.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  const input = parsed.data;
  const address = senderAddressOf(input);
  const deployment = await twilioSettings();
  const store = tenantSenders();
  if (address === deployment.from || address === deployment.messagingServiceSid)
    throw new ApiError(
      'SENDER_IN_USE',
      "This is the deployment's shared sender, which every tenant without its own uses: give a sender of this tenant's own.",
      [{ path: input.from ? 'from' : 'messagingServiceSid', message: 'the shared sender' }],
    );
  const [senderOwner, accountOwner, old] = await Promise.all([
    store.ownerOfSender(address),
    input.accountSid ? store.ownerOfAccount(input.accountSid) : undefined,
    store.get(tenantId),
  ]);
  if ((senderOwner && senderOwner !== tenantId) || (accountOwner && accountOwner !== tenantId))
    throw new ApiError(
      'SENDER_IN_USE',
      `Another tenant of this deployment already sends from this ${senderOwner && senderOwner !== tenantId ? 'sender' : 'Twilio account'}: a sender and an account belong to one tenant.`,
      [
        senderOwner && senderOwner !== tenantId
          ? { path: input.from ? 'from' : 'messagingServiceSid', message: 'in use by another tenant' }
          : { path: 'accountSid', message: 'in use by another tenant' },
      ],
    );

  // The credentials to check (and to send with): the given token, the one stored for this very account, or the deployment's.
  let accountSid = deployment.accountSid;
  let authToken = deployment.authToken;
  if (input.accountSid) {
    accountSid = input.accountSid;
    authToken =
      input.authToken ??
      (old?.accountSid === input.accountSid
        ? (await tenantTwilioSecrets().get(tenantId))?.authToken
        : undefined);
    if (!authToken)
      throw new ApiError('VALIDATION_FAILED', 'The request is invalid', [
        { path: 'authToken', message: `required: no auth token is stored for account ${input.accountSid}` },
      ]);
  }
  if (!accountSid || !authToken)
    throw new ApiError(
      'PROVIDER_NOT_CONFIGURED',
      "The deployment's Twilio account is not configured (TWILIO_ACCOUNT_SID and its auth token): give this tenant's own accountSid and authToken, or configure the deployment's first.",
    );
  const check = await checkTwilioSender({
    accountSid,
    authToken,
    ...(input.messagingServiceSid ? { messagingServiceSid: input.messagingServiceSid } : {}),
    ...(deployment.apiBaseUrl ? { apiBaseUrl: deployment.apiBaseUrl } : {}),
  });
  if (!check.ok) {
    if (check.problem === 'unavailable')
      throw new ApiError('PROVIDER_UNAVAILABLE', check.message, undefined, { 'Retry-After': '5' });
    throw new ApiError('VALIDATION_FAILED', 'Twilio refused these sender settings', [
      {
        path:
          check.problem === 'credentials'
            ? input.accountSid
              ? 'authToken'
              : 'accountSid'
            : 'messagingServiceSid',
        message: check.message,
      },
    ]);
  }

  if (input.accountSid && input.authToken)
    await tenantTwilioSecrets().put(tenantId, { accountSid: input.accountSid, authToken: input.authToken });
  const result = await store.put(
    tenantId,
    {
      ...(input.from ? { from: input.from } : {}),
      ...(input.messagingServiceSid ? { messagingServiceSid: input.messagingServiceSid } : {}),
      ...(input.accountSid ? { accountSid: input.accountSid } : {}),
      ...(input.senderMps ? { senderMps: input.senderMps } : {}),
    },
    now,
  );
  if ('conflict' in result)
    throw new ApiError(
      'SENDER_IN_USE',
      `Another tenant of this deployment took this ${result.conflict} meanwhile.`,
    );
  // Back on the deployment's account: the tenant's token is no longer needed.
  if (!input.accountSid && old?.accountSid) await tenantTwilioSecrets().remove(tenantId);
  logger.info('tenant sender changed', {
    sender: address,
    ownAccount: Boolean(input.accountSid),
    tokenChanged: Boolean(input.authToken),
  });
  return senderView(result.stored, defaultMps());
}

export async function deleteSender(tenantId: string): Promise<TenantSenderViewShape> {
  const old = await tenantSenders().get(tenantId);
  await tenantSenders().remove(tenantId);
  if (old?.accountSid) await tenantTwilioSecrets().remove(tenantId);
  if (old) logger.info('tenant sender removed: back to the deployment sender');
  return senderView(undefined, defaultMps());
}
