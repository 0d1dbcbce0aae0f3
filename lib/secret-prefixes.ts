import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { nagEnv } from './nag-ids.ts';
import type { SecretPrefixAccess } from './topology.ts';

/**
 * Secrets the functions create at run time (a tenant's own Twilio credentials), named under a prefix
 * of this stack's, with IAM on the names under that prefix only: one stack's functions never read
 * another stack's (or anything else's) secrets. The secrets use Secrets Manager's AWS managed key
 * (aws/secretsmanager), which needs no key policy grant.
 */

/** `<stack name>/<prefix id>/`: the names the functions give their secrets, and the grant's scope. */
export function secretPrefixName(stack: Stack, prefixId: string): string {
  return `${stack.stackName}/${prefixId}/`;
}

/** The actions each access allows (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html). */
export const SECRET_PREFIX_ACTIONS: Readonly<Record<SecretPrefixAccess, readonly string[]>> = {
  read: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
  write: [
    'secretsmanager:GetSecretValue',
    'secretsmanager:DescribeSecret',
    'secretsmanager:CreateSecret',
    'secretsmanager:PutSecretValue',
    'secretsmanager:DeleteSecret',
  ],
};

export const SECRET_PREFIX_GRANT_REASON =
  "Secrets created at run time, one per tenant (their names hold tenant ids, unknown until then), under this stack's own name prefix; the actions are only those the topology declares";

/**
 * Grants `access` on the secrets under the prefix; returns the cdk-nag finding the wildcard raises
 * (`AwsSolutions-IAM5[<this>]`), for the caller to acknowledge with SECRET_PREFIX_GRANT_REASON.
 * Secret ARNs end in `-` and six random characters, hence the trailing `*`.
 */
export function grantSecretPrefix(role: iam.IRole, prefix: string, access: SecretPrefixAccess): string {
  const stack = Stack.of(role);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: [...SECRET_PREFIX_ACTIONS[access]],
      resources: [
        stack.formatArn({
          service: 'secretsmanager',
          resource: 'secret',
          resourceName: `${prefix}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    }),
  );
  const { account, region } = nagEnv(stack);
  return `Resource::arn:<AWS::Partition>:secretsmanager:${region}:${account}:secret:${prefix}*`;
}
