import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoTenantSenders } from '../adapters/dynamo-tenant-senders.ts';
import { SecretsManagerTenantTwilio } from '../adapters/secrets-tenant-twilio.ts';
import {
  type SenderSnapshot,
  snapshotOf,
  type TenantSenderStore,
  type TenantTwilioSecrets,
} from '../core/tenant-senders.ts';
import { optionalEnv, requiredEnv, type TwilioSettings, twilioSettings } from './config.ts';
import { dynamoDocumentClient } from './wiring.ts';

/**
 * Which Twilio account and token a tenant's traffic uses: its own (a subaccount whose credentials are
 * in Secrets Manager under TENANT_SECRETS_PREFIX) or the deployment's (TWILIO_ACCOUNT_SID and the
 * twilioAuthToken secret). No Twilio SDK here: the webhooks' bundles stay small.
 */

let senders: TenantSenderStore | undefined;
let secrets: TenantTwilioSecrets | undefined;
let secretsClient: SecretsManagerClient | undefined;

export function tenantSenders(): TenantSenderStore {
  senders ??= new DynamoTenantSenders(dynamoDocumentClient(), requiredEnv('TABLE_NAME'));
  return senders;
}

/** The tenants' Twilio secrets (TENANT_SECRETS_PREFIX names where; unset: no tenant has its own account). */
export function tenantTwilioSecrets(): TenantTwilioSecrets {
  secrets ??= new SecretsManagerTenantTwilio(() => {
    secretsClient ??= new SecretsManagerClient({});
    return secretsClient;
  }, requiredEnv('TENANT_SECRETS_PREFIX'));
  return secrets;
}

/**
 * The credentials a snapshot of a tenant's sender sends with: the tenant's own account's (read from
 * its secret, which must still be for that account), or the deployment's. `authToken` is absent when
 * the token is not (or no longer) stored.
 */
export async function credentialsFor(
  tenantId: string,
  sender: SenderSnapshot | undefined,
): Promise<TwilioSettings> {
  const deployment = await twilioSettings();
  const base = {
    ...(deployment.apiBaseUrl ? { apiBaseUrl: deployment.apiBaseUrl } : {}),
    ...(sender?.from ? { from: sender.from } : {}),
    ...(sender?.messagingServiceSid ? { messagingServiceSid: sender.messagingServiceSid } : {}),
  };
  if (!sender) return deployment;
  if (!sender.accountSid) {
    const { from: _f, messagingServiceSid: _m, ...account } = deployment;
    return { ...account, ...base };
  }
  const own = await tenantTwilioSecrets().get(tenantId);
  return {
    accountSid: sender.accountSid,
    ...(own && own.accountSid === sender.accountSid ? { authToken: own.authToken } : {}),
    ...base,
  };
}

/** What a tenant sends from now (its own sender, or undefined: the deployment's): snapshotted by a new broadcast. */
export async function currentSenderOf(tenantId: string): Promise<SenderSnapshot | undefined> {
  return snapshotOf(await tenantSenders().get(tenantId));
}

/**
 * The auth token that signs a webhook from `accountSid` (the form's AccountSid), and the tenant that
 * owns that account when it is a tenant's own: the deployment's token for the deployment's account (or
 * none named), the owner's stored token for a tenant's account, nothing for an account nobody has.
 */
export async function webhookTokenFor(
  accountSid: string | undefined,
): Promise<{ token: string | undefined; accountOwner?: string }> {
  const deployment = await twilioSettings();
  if (!accountSid || accountSid === deployment.accountSid) return { token: deployment.authToken };
  if (!optionalEnv('TENANT_SECRETS_PREFIX')) return { token: undefined };
  const owner = await tenantSenders().ownerOfAccount(accountSid);
  if (!owner) return { token: undefined };
  const own = await tenantTwilioSecrets().get(owner);
  return { token: own?.accountSid === accountSid ? own.authToken : undefined, accountOwner: owner };
}

/**
 * What a broadcast created now for `tenantId` would send from, and whether Twilio can be called with
 * it at all (an account SID, its token and a sender: the create route's pre-flight).
 */
export async function senderForNewBroadcast(
  tenantId: string,
): Promise<{ sender: SenderSnapshot | undefined; configured: boolean }> {
  const sender = await currentSenderOf(tenantId);
  const credentials = await credentialsFor(tenantId, sender);
  return {
    sender,
    configured: Boolean(
      credentials.accountSid &&
        credentials.authToken &&
        (credentials.from || credentials.messagingServiceSid),
    ),
  };
}
