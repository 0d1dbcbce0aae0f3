import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoTenantSenders } from '../adapters/dynamo-tenant-senders.ts';
import { SecretsManagerTenantTwilio } from '../adapters/secrets-tenant-twilio.ts';
import { TwilioMessageDeletion } from '../adapters/twilio-message-deletion.ts';
import type { ProviderMessageDeletion } from '../core/erasure.ts';
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
 * How long a container trusts its answer to "which tenant owns this Twilio account": every status
 * callback of a tenant's own account asks, three per message, and the answer changes only when the
 * tenant changes its settings. Shorter than the token's own cache (secrets-tenant-twilio.ts, 300 s).
 */
const ACCOUNT_OWNER_CACHE_MS = 60_000;
/** Accounts remembered per container at most (callbacks naming made-up accounts cannot grow it). */
const ACCOUNT_OWNER_CACHE_SIZE = 1_000;
const accountOwners = new Map<string, { owner: Promise<string | undefined>; until: number }>();

/** Callbacks arriving together share one read; a failed read is not remembered. */
function ownerOfAccount(accountSid: string, now = Date.now()): Promise<string | undefined> {
  const cached = accountOwners.get(accountSid);
  if (cached && cached.until > now) return cached.owner;
  accountOwners.delete(accountSid);
  if (accountOwners.size >= ACCOUNT_OWNER_CACHE_SIZE) {
    const oldest = accountOwners.keys().next();
    if (!oldest.done) accountOwners.delete(oldest.value);
  }
  const owner = tenantSenders().ownerOfAccount(accountSid);
  const entry = { owner, until: now + ACCOUNT_OWNER_CACHE_MS };
  accountOwners.set(accountSid, entry);
  owner.catch(() => {
    if (accountOwners.get(accountSid) === entry) accountOwners.delete(accountSid);
  });
  return owner;
}

/**
 * The auth token that signs a webhook from `accountSid` (the form's AccountSid), and the tenant that
 * owns that account when it is a tenant's own: the deployment's token for the deployment's account (or
 * none named), the owner's stored token for a tenant's account, nothing for an account nobody has.
 * The owner is read once a minute per container (ACCOUNT_OWNER_CACHE_MS), the token once in five.
 */
export async function webhookTokenFor(
  accountSid: string | undefined,
): Promise<{ token: string | undefined; accountOwner?: string }> {
  const deployment = await twilioSettings();
  if (!accountSid || accountSid === deployment.accountSid) return { token: deployment.authToken };
  if (!optionalEnv('TENANT_SECRETS_PREFIX')) return { token: undefined };
  const owner = await ownerOfAccount(accountSid);
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

/**
 * Deletes a tenant's message records at Twilio (an erasure): on the tenant's own account when it has
 * one, then on the deployment's (where a tenant's messages went before it had its own, or went all
 * along). A SID neither account has is `not_found`: deleted already, or on an account the tenant no
 * longer names (its credentials are gone with the setting).
 */
export async function providerMessagesOf(tenantId: string): Promise<ProviderMessageDeletion> {
  const deployment = await twilioSettings();
  const own = optionalEnv('TENANT_SECRETS_PREFIX') ? await tenantTwilioSecrets().get(tenantId) : undefined;
  const accounts = [
    own,
    deployment.accountSid && deployment.authToken
      ? { accountSid: deployment.accountSid, authToken: deployment.authToken }
      : undefined,
  ].filter((account) => account !== undefined);
  const deleters = accounts.map(
    (account) =>
      new TwilioMessageDeletion({
        ...account,
        ...(deployment.apiBaseUrl ? { apiBaseUrl: deployment.apiBaseUrl } : {}),
      }),
  );
  return {
    async delete(sid) {
      for (const deleter of deleters) {
        const answer = await deleter.delete(sid);
        if (answer !== 'not_found') return answer;
      }
      return 'not_found';
    },
  };
}
