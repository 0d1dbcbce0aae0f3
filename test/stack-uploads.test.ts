import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CfnResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BroadcastStack, type BroadcastStackProps } from '../lib/stack.ts';
import { testApp } from './support/cdk-app.ts';

/** The uploads bucket on AWS: private, encrypted, expiring, announcing import files to the imports queue. */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cdkJsonContext = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: object })
  .context;

type Json = Record<string, unknown>;

function synth(props: BroadcastStackProps = {}) {
  const app = testApp({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
  const stack = new BroadcastStack(app, 'Uploads', props);
  return { stack, template: Template.fromStack(stack) };
}

const idOf = (stack: BroadcastStack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);

/** Every S3 action a function's role has, with the object ARN pattern (`<bucket>/imports/*`) it is on. */
function s3Grants(template: Template, stack: BroadcastStack, fnId: string): string[] {
  const role = stack.functions[fnId]?.role;
  if (!role) throw new Error(`no function ${fnId}`);
  const roleId = idOf(stack, role);
  const bucketId = idOf(stack, stack.buckets.uploads as never);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Json[];
  return policies
    .filter((p) => JSON.stringify((p.Properties as Json).Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((p) => ((p.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement)
    .flatMap((statement) => {
      const actions = ([] as string[]).concat(statement.Action as string | string[]);
      const resources = ([] as unknown[]).concat(statement.Resource);
      return actions
        .filter((a) => a.startsWith('s3:'))
        .flatMap((a) =>
          resources.map((r) => {
            const text = JSON.stringify(r);
            if (!text.includes(bucketId)) return `${a} elsewhere`;
            const prefix = /"\/([a-z]+\/\*)"/.exec(text)?.[1];
            return prefix ? `${a} ${prefix}` : `${a} bucket`;
          }),
        );
    })
    .sort();
}

describe('the uploads bucket', () => {
  let stack: BroadcastStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synth());
  });

  it('is private, encrypted, TLS only, owner-enforced and retained', () => {
    const bucketId = idOf(stack, stack.buckets.uploads as never);
    const bucket = template.toJSON().Resources[bucketId];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('expires uploads after a day and import files after a week', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({
            Prefix: 'uploads/',
            ExpirationInDays: 1,
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            Status: 'Enabled',
          }),
          Match.objectLike({ Prefix: 'imports/', ExpirationInDays: 7, Status: 'Enabled' }),
        ],
      },
    });
  });

  it('announces objects created under imports/ on the imports queue, with no custom resource', () => {
    const bucketId = idOf(stack, stack.buckets.uploads as never);
    const queue = stack.queues.imports?.queue;
    if (!queue) throw new Error('no imports queue');
    const queueId = idOf(stack, queue);
    const bucket = template.toJSON().Resources[bucketId];
    expect(bucket.Properties.NotificationConfiguration).toEqual({
      QueueConfigurations: [
        {
          Event: 's3:ObjectCreated:*',
          Queue: { 'Fn::GetAtt': [queueId, 'Arn'] },
          Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'imports/' }] } },
        },
      ],
    });
    // S3 checks the destination when the configuration is written: the queue's policy must come first.
    const policies = template.findResources('AWS::SQS::QueuePolicy', {
      Properties: { Queues: [{ Ref: queueId }] },
    });
    const [policyId, policy] = Object.entries(policies)[0] as [string, Json];
    expect(bucket.DependsOn).toContain(policyId);
    expect(JSON.stringify(policy)).toContain('s3.amazonaws.com');
    expect((policy.Properties as Json).PolicyDocument).toMatchObject({
      Statement: expect.arrayContaining([
        expect.objectContaining({
          Action: 'sqs:SendMessage',
          Principal: { Service: 's3.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        }),
      ]),
    });
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
  });

  it('lets the API read and write uploads and write import files, and the worker only read import files', () => {
    expect(s3Grants(template, stack, 'contactImports')).toEqual([
      's3:DeleteObject uploads/*',
      's3:GetObject uploads/*',
      's3:ListBucket bucket',
      's3:PutObject imports/*',
      's3:PutObject uploads/*',
    ]);
    expect(s3Grants(template, stack, 'importContacts')).toEqual([
      's3:GetObject imports/*',
      's3:ListBucket bucket',
    ]);
    for (const fnId of Object.keys(stack.functions))
      if (fnId !== 'contactImports' && fnId !== 'importContacts')
        expect(s3Grants(template, stack, fnId), fnId).toEqual([]);
  });

  it('tells both functions the bucket, and runs one import per invocation from the imports queue', () => {
    const bucketRef = { Ref: idOf(stack, stack.buckets.uploads as never) };
    for (const fnId of ['contactImports', 'importContacts']) {
      const fn = template.toJSON().Resources[idOf(stack, stack.functions[fnId]?.function as never)];
      expect(fn.Properties.Environment.Variables.UPLOADS_BUCKET, fnId).toEqual(bucketRef);
    }
    const queueArn = { 'Fn::GetAtt': [idOf(stack, stack.queues.imports?.queue as never), 'Arn'] };
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: queueArn,
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 1800,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
    });
    template.hasOutput('UploadsBucketName', { Value: { Ref: idOf(stack, stack.buckets.uploads as never) } });
  });

  it('allows browser uploads from the configured origins only', () => {
    expect(JSON.stringify(template.findResources('AWS::S3::Bucket'))).not.toContain('CorsConfiguration');
    const withOrigin = synth({ uploadCorsOrigins: ['https://console.example.com/'] }).template;
    withOrigin.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          {
            AllowedMethods: ['PUT'],
            AllowedOrigins: ['https://console.example.com'],
            AllowedHeaders: ['Content-Type'],
            MaxAge: 3600,
          },
        ],
      },
    });
    expect(() => synth({ uploadCorsOrigins: ['console.example.com/app'] })).toThrow(/uploadCorsOrigins/);
  });
});
