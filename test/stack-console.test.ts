import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConsoleSite } from '../lib/console-site.ts';
import { BroadcastStack, type BroadcastStackProps } from '../lib/stack.ts';
import { testApp } from './support/cdk-app.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cdkJsonContext = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: object })
  .context;

function build(props: BroadcastStackProps = {}) {
  // Bundling off, as in test/stack.test.ts: the console's asset is then its sources, not a build.
  const app = testApp({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
  const stack = new BroadcastStack(app, 'Broadcast', props);
  return { app, stack, template: Template.fromStack(stack) };
}

describe('the admin console on AWS', { timeout: 60_000 }, () => {
  let built: ReturnType<typeof build>;
  beforeAll(() => {
    built = build();
  }, 60_000);

  it('keeps the files in a private, encrypted, TLS-only bucket read by CloudFront through origin access control', () => {
    const { template, stack } = built;
    const bucketId = stack.getLogicalId(stack.consoleSite?.bucket.node.defaultChild as never);
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
      }),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:GetObject',
            Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
      }),
    });
  });

  it('sends the security headers: CSP with no framing, HSTS, nosniff', () => {
    const policies = built.template.findResources('AWS::CloudFront::ResponseHeadersPolicy');
    const config = JSON.stringify(Object.values(policies)[0]);
    expect(config).toContain("frame-ancestors 'none'");
    expect(config).toContain("script-src 'self'");
    expect(config).toContain('execute-api');
    built.template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          StrictTransportSecurity: Match.objectLike({ AccessControlMaxAgeSec: 31_536_000, Override: true }),
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
        }),
      }),
    });
  });

  it('deploys the files with a config.json naming the API, and prints the console URL', () => {
    const { template } = built;
    template.resourceCountIs('Custom::CDKBucketDeployment', 1);
    // config.json is a second source whose API URL CloudFormation fills in at deploy (a marker).
    const [deployment] = Object.values(template.findResources('Custom::CDKBucketDeployment')) as {
      Properties: { SourceObjectKeys: unknown[]; SourceMarkers: unknown[] };
    }[];
    expect(deployment?.Properties.SourceObjectKeys).toHaveLength(2);
    const apiId = built.stack.getLogicalId(built.stack.api.node.defaultChild as never);
    expect(JSON.stringify(deployment?.Properties.SourceMarkers)).toContain(apiId);
    const outputs = template.findOutputs('ConsoleUrl');
    expect(JSON.stringify(outputs)).toContain('DomainName');
  });

  it("allows the console's origin only in the API's CORS, with the headers the console sends and reads", () => {
    const { template, stack } = built;
    const distributionId = stack.getLogicalId(stack.consoleSite?.distribution.node.defaultChild as never);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] }],
        AllowHeaders: Match.arrayWith(['authorization', 'content-type', 'idempotency-key']),
        ExposeHeaders: Match.arrayWith(['x-next-cursor']),
        AllowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
        MaxAge: 3600,
      },
    });
  });

  it('is cdk-nag clean (each finding acknowledged with a reason)', () => {
    const violations = new AwsSolutionsChecks(built.app)
      .validateScope(built.app)
      .violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath)}`);
    expect(violations).toEqual([]);
  });

  it('can be left out: no CloudFront, no CORS', () => {
    const { template } = build({ console: false });
    template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    expect(JSON.stringify(template.findResources('AWS::ApiGatewayV2::Api'))).not.toContain(
      'CorsConfiguration',
    );
  });

  it('builds the console at synth (CDK bundling with the local Node), production files only', () => {
    const app = testApp();
    new ConsoleSite(new Stack(app, 'Site'), 'Console', {
      apiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
    });
    const outdir = app.synth().directory;
    const assets = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    const built = assets.find((d) => existsSync(join(outdir, d, 'index.html')));
    expect(built).toBeDefined();
    const files = readdirSync(join(outdir, built as string, 'assets'));
    expect(files.some((f) => f.endsWith('.js'))).toBe(true);
    expect(readdirSync(join(outdir, built as string))).not.toContain('src');
  });
});
