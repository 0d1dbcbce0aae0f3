import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { pascal } from './output-names.ts';
import type { BucketAccess, BucketSpec } from './topology.ts';

/**
 * The stack's S3 buckets, as the topology declares them (lib/topology.ts `buckets`): private,
 * encrypted, TLS only, objects expiring by prefix, ObjectCreated events to SQS, an output with the
 * name; and the grants a function's `uses.buckets` asks for.
 */

/**
 * One bucket: S3 Block Public Access, SSE-S3, bucket owner enforced, a policy refusing non-TLS
 * requests, retained when the stack is deleted, lifecycle expiry per prefix, CORS for browser PUTs
 * from `corsOrigins` when the spec takes browser uploads, and its notifications (`queueOf` resolves
 * a topology queue id).
 */
export function createBucket(
  scope: Construct,
  bucketId: string,
  spec: BucketSpec,
  options: { corsOrigins: readonly string[]; queueOf: (queueId: string) => sqs.Queue },
): s3.Bucket {
  const bucket = new s3.Bucket(scope, `${pascal(bucketId)}Bucket`, {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    // Kept, like the table, when the stack is deleted; its objects expire on their own.
    removalPolicy: RemovalPolicy.RETAIN,
    lifecycleRules: spec.expirations.map((e) => ({
      id: `expire-${e.prefix.replace(/\W+/g, '')}`,
      prefix: e.prefix,
      expiration: Duration.days(e.days),
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    })),
    ...(spec.browserUploads && options.corsOrigins.length > 0
      ? {
          cors: [
            {
              allowedMethods: [s3.HttpMethods.PUT],
              allowedOrigins: [...options.corsOrigins],
              allowedHeaders: ['Content-Type'],
              maxAge: 3600,
            },
          ],
        }
      : {}),
  });
  notifyQueues(
    scope,
    bucket,
    spec.notifications.map((n) => ({ ...n, queue: options.queueOf(n.queue) })),
  );
  Validations.of(bucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason:
      "No server access logs: every object is written by this stack's functions or through a presigned URL the API issued to an authenticated tenant (recorded with its uploadId), and expires within days; access logs would need a second bucket holding the presigned query strings",
  });
  new CfnOutput(scope, `${pascal(bucketId)}BucketName`, {
    value: bucket.bucketName,
    description: `The ${bucketId} bucket (uploaded files and import files; they expire on their own)`,
  });
  return bucket;
}

/**
 * A function's access to a bucket, by key prefix: GetObject (read), PutObject (write, which also
 * lets it presign PUT URLs under that prefix: a presigned URL acts with its signer's permissions),
 * DeleteObject (delete). ListBucket on the bucket itself, because without it S3 answers a HeadObject
 * of a missing key with 403 instead of 404 (S3 API reference, HeadObject, "Permissions").
 */
export function grantBucket(role: iam.IRole, bucket: s3.IBucket, access: BucketAccess): void {
  const arns = (prefixes: readonly string[] | undefined) =>
    (prefixes ?? []).map((p) => bucket.arnForObjects(`${p}*`));
  const statements: [string[], readonly string[] | undefined][] = [
    [['s3:GetObject'], access.read],
    [['s3:PutObject'], access.write],
    [['s3:DeleteObject'], access.delete],
  ];
  for (const [actions, prefixes] of statements)
    if (prefixes && prefixes.length > 0)
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: arns(prefixes) }));
  if (access.read && access.read.length > 0)
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
    );
}

/**
 * The bucket's ObjectCreated notifications under each prefix, to SQS, in the bucket's own
 * CloudFormation NotificationConfiguration. (CDK's addEventNotification would deploy a custom
 * resource Lambda function to set them instead, a function with a managed policy and `Resource *`.)
 * S3 checks a destination when the configuration is written, so the queue's policy must let S3 send
 * first: the bucket depends on it. The policy names this account (`aws:SourceAccount`), not the
 * bucket's ARN, which would make each of the two wait for the other (S3 user guide, "Granting
 * permissions to publish event notification messages to a destination").
 *
 * Why a queue rather than invoking the import function directly: the queue keeps an event through
 * the function's retries (5 receives, then its dead-letter queue and alarm), bounds how many imports
 * run at once (the event source's maximum concurrency), and carries the worker's own continuations.
 */
function notifyQueues(
  scope: Construct,
  bucket: s3.Bucket,
  notifications: readonly { prefix: string; queue: sqs.Queue }[],
): void {
  if (notifications.length === 0) return;
  const cfnBucket = bucket.node.defaultChild as s3.CfnBucket;
  for (const { queue } of notifications) {
    const { policyDependable } = queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'S3ObjectCreatedEvents',
        principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [queue.queueArn],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
      }),
    );
    if (policyDependable) cfnBucket.node.addDependency(policyDependable);
  }
  cfnBucket.notificationConfiguration = {
    queueConfigurations: notifications.map(({ prefix, queue }) => ({
      event: 's3:ObjectCreated:*',
      queue: queue.queueArn,
      filter: { s3Key: { rules: [{ name: 'prefix', value: prefix }] } },
    })),
  };
}

/** `https://host[:port]`, no path: what a browser sends as Origin. A typo fails the synth. */
export function checkCorsOrigins(origins: readonly string[]): string[] {
  return origins.map((o) => {
    const origin = o.trim().replace(/\/+$/, '');
    if (!/^https?:\/\/[^/\s]+$/.test(origin))
      throw new Error(
        `uploadCorsOrigins must be origins like https://console.example.com (no path); got '${o}'`,
      );
    return origin;
  });
}
