import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeys } from '../../functions/adapters/dynamo-api-keys.ts';
import type { SeedOutcome } from '../../functions/core/access-ports.ts';
import { hashApiKey } from '../../functions/core/api-keys.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local.ts';

/**
 * Puts the configured tenant keys (LOCAL_API_KEYS, hashed) in the table as admin keys, as the
 * operator CLI does on AWS. A key already there is left as it is: a restart never un-revokes a key
 * (nor moves it to another tenant); `warn` says so, naming the tenant, never the key.
 */
export async function seedApiKeys(
  endpoint: string,
  tableName: string | undefined,
  keys: readonly { readonly tenantId: string; readonly key: string }[],
  warn: (message: string) => void,
): Promise<SeedOutcome[]> {
  if (!tableName || keys.length === 0) return [];
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    const store = new DynamoApiKeys(DynamoDBDocumentClient.from(client), tableName);
    const outcomes: SeedOutcome[] = [];
    for (const { tenantId, key } of keys) {
      const outcome = await store.seed(tenantId, hashApiKey(key), new Date());
      if (outcome === 'revoked')
        warn(
          `LOCAL_API_KEYS: the key given for tenant '${tenantId}' was revoked and stays revoked (requests with it answer 401); give that tenant a new key, or make one with: npm run cli -- api-key create --tenant ${tenantId} --name <name> --local`,
        );
      if (outcome === 'other_tenant')
        warn(
          `LOCAL_API_KEYS: the key given for tenant '${tenantId}' already belongs to another tenant in this DATA_DIR; it was left with that tenant`,
        );
      outcomes.push(outcome);
    }
    return outcomes;
  } finally {
    client.destroy();
  }
}
