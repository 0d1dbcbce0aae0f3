import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { TenantTwilioSecrets } from '../core/tenant-senders.ts';

/**
 * Each tenant's own Twilio credentials in Secrets Manager, one secret per tenant named
 * `<prefix><tenantId>` (the prefix is the stack's, TENANT_SECRETS_PREFIX, and IAM grants only names
 * under it), holding `{"accountSid":"AC…","authToken":"…"}`. Reads go through Powertools parameters
 * (cached for `maxAgeSeconds`, so a token change reaches every function within that time); writes
 * through the SDK. Tenant ids are `[A-Za-z0-9_-]{1,64}` (core/api-keys.ts), all allowed in a secret
 * name (Secrets Manager allows letters, digits and /_+=.@-, up to 512 characters:
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
 */
export class SecretsManagerTenantTwilio implements TenantTwilioSecrets {
  readonly #client: () => SecretsManagerClient;
  readonly #prefix: string;
  readonly #maxAgeSeconds: number;

  constructor(client: () => SecretsManagerClient, prefix: string, options: { maxAgeSeconds?: number } = {}) {
    this.#client = client;
    this.#prefix = prefix;
    this.#maxAgeSeconds = options.maxAgeSeconds ?? 300;
  }

  /** The secret's name for a tenant. */
  nameOf(tenantId: string): string {
    return `${this.#prefix}${tenantId}`;
  }

  async get(tenantId: string): Promise<{ accountSid: string; authToken: string } | undefined> {
    let value: unknown;
    try {
      value = await getSecret(this.nameOf(tenantId), { maxAge: this.#maxAgeSeconds });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const text =
      typeof value === 'string' ? value : value ? Buffer.from(value as Uint8Array).toString('utf8') : '';
    try {
      const parsed = JSON.parse(text) as { accountSid?: unknown; authToken?: unknown };
      return typeof parsed.accountSid === 'string' && typeof parsed.authToken === 'string'
        ? { accountSid: parsed.accountSid, authToken: parsed.authToken }
        : undefined;
    } catch {
      return undefined;
    }
  }

  async put(tenantId: string, credentials: { accountSid: string; authToken: string }): Promise<void> {
    const SecretString = JSON.stringify(credentials);
    const SecretId = this.nameOf(tenantId);
    try {
      await this.#client().send(new PutSecretValueCommand({ SecretId, SecretString }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.#client().send(
        new CreateSecretCommand({
          Name: SecretId,
          SecretString,
          Description: `Twilio account credentials of tenant ${tenantId} (PUT /v1/settings/twilio)`,
        }),
      );
    }
  }

  async remove(tenantId: string): Promise<void> {
    try {
      // No recovery window: the tenant may store a token again at once (a secret scheduled for
      // deletion refuses new values), and the token itself still lives in the tenant's Twilio account.
      await this.#client().send(
        new DeleteSecretCommand({ SecretId: this.nameOf(tenantId), ForceDeleteWithoutRecovery: true }),
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof ResourceNotFoundException ||
    (error instanceof Error && error.name === 'ResourceNotFoundException') ||
    // Powertools wraps the SDK's error in its own GetParameterError, keeping it as the cause.
    (error instanceof Error &&
      error.cause instanceof Error &&
      error.cause.name === 'ResourceNotFoundException')
  );
}
