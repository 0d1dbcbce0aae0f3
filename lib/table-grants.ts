import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { resolveTableGrants } from './table-access.ts';
import type { TableAccess, TableSpec } from './topology.ts';

/**
 * Grants a function's role what its `uses.tables` entry declares on one table (lib/table-access.ts):
 * per grant, one statement on the table with its actions and, with `leadingKeys`, the condition
 * `ForAllValues:StringLike` on `dynamodb:LeadingKeys` (DynamoDB developer guide, "Using IAM policy
 * conditions for fine-grained access control"), and one statement allowing Query (and Scan) on each
 * named index, by its ARN. The coarse `'read'`/`'readwrite'` keep CDK's grantReadData and
 * grantReadWriteData (every index: `index/*`).
 *
 * Returns whether the role got the `index/*` wildcard (a cdk-nag IAM5 finding for the caller to
 * acknowledge); fine-grained grants name each index and need none.
 */
export function grantTable(
  role: iam.IRole,
  table: dynamodb.Table,
  access: TableAccess,
  spec: TableSpec,
): { indexWildcard: boolean } {
  let indexWildcard = false;
  for (const grant of resolveTableGrants(access, spec)) {
    if (grant.coarse) {
      if (grant.coarse === 'read') table.grantReadData(role);
      else table.grantReadWriteData(role);
      indexWildcard ||= spec.globalIndexes.length > 0;
      continue;
    }
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: grant.actions.map((action) => `dynamodb:${action}`),
        resources: [table.tableArn],
        ...(grant.leadingKeys
          ? { conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...grant.leadingKeys] } } }
          : {}),
      }),
    );
    if (grant.indexes.length > 0)
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: grant.actions.filter((a) => a === 'Query' || a === 'Scan').map((a) => `dynamodb:${a}`),
          resources: grant.indexes.map((index) => `${table.tableArn}/index/${index}`),
        }),
      );
  }
  return { indexWildcard };
}
