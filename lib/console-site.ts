import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  AssetHashType,
  CfnOutput,
  DockerImage,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { CONSOLE_DIR } from './console-build.ts';
import { consoleCsp } from './console-headers.ts';
import { nagEnv } from './nag-ids.ts';

export interface ConsoleSiteProps {
  /** The HTTP API's base URL (no trailing slash): written to config.json for the console. */
  readonly apiUrl: string;
  /**
   * The built files. Default: console/ built by CDK asset bundling (locally, with this machine's
   * Node: `node bin/build-console.ts --out <asset dir>`), so `cdk deploy` needs no separate step.
   */
  readonly source?: s3deploy.ISource;
}

/**
 * The admin console on AWS: a private, encrypted, TLS-only S3 bucket behind CloudFront with origin
 * access control (the bucket is readable by this distribution only: AWS CloudFront Developer Guide,
 * "Restricting access to an Amazon S3 origin"), the built files deployed by BucketDeployment with a
 * `config.json` naming the API, and a response headers policy with the console's security headers
 * (CSP, HSTS, nosniff, frame-ancestors none; lib/console-headers.ts).
 *
 * Why config.json rather than a CloudFront behaviour proxying /v1/* to the API: the API keeps its
 * one URL (Twilio signs webhooks against it; clients and the CLI use it), no second path for admin
 * traffic with its own caching and header-forwarding rules; the cost is CORS, allowed for this
 * console's origin only (lib/stack.ts).
 */
export class ConsoleSite extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  /** `https://d…cloudfront.net` (no trailing slash): the origin the API's CORS allows. */
  readonly origin: string;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Files', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Only build output lives here: BucketDeployment puts it back on every deploy.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const region = Stack.of(this).region;
    const urlSuffix = Stack.of(this).urlSuffix;
    // The API's origin by pattern, not by id: the API's CORS names this distribution, so naming the
    // API here would be a dependency cycle. Still only execute-api in this stack's region.
    const apiOrigins = `https://*.execute-api.${region}.${urlSuffix}`;
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'WhatsApp broadcast console: CSP, HSTS, nosniff, no framing',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: consoleCsp(apiOrigins), override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'WhatsApp broadcast admin console',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        compress: true,
      },
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    });
    this.origin = `https://${this.distribution.distributionDomainName}`;

    new s3deploy.BucketDeployment(this, 'Deploy', {
      sources: [
        props.source ?? consoleAsset(),
        s3deploy.Source.jsonData('config.json', { apiBaseUrl: props.apiUrl }),
      ],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      // Hashed assets never change; the page and the config do.
      distributionPaths: ['/index.html', '/config.json'],
      memoryLimit: 256,
    });

    acknowledge(
      this.bucket,
      'AwsSolutions-S1',
      'No access logs for build output that anyone may read through CloudFront; the bucket holds no user data',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR1',
      'No geo restriction: admins sign in from wherever their business is; the files are public static assets and the API checks every key',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR2',
      'No WAF on static files (about $5/month plus per-request fees); the API behind them authenticates every request and is throttled by API Gateway',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR3',
      'No CloudFront access logs for public static files: they would need a logging bucket with ACLs; the API keeps its own access logs',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR4',
      "The default *.cloudfront.net certificate: CloudFront's TLS policy there is TLSv1 and cannot be raised without a custom domain and certificate (set one to get TLSv1.2_2021, configured above)",
    );
    acknowledgeDeploymentProvider(Stack.of(this), this.bucket);
  }
}

/**
 * The console for `stack`: the site, the HTTP API's CORS allowing its origin only (the headers it
 * sends and the ones it reads), and its URL as the ConsoleUrl output.
 */
export function addConsoleSite(stack: Stack, api: apigw.HttpApi, apiUrl: string): ConsoleSite {
  const site = new ConsoleSite(stack, 'Console', { apiUrl });
  (api.node.defaultChild as apigw.CfnApi).corsConfiguration = {
    allowOrigins: [site.origin],
    allowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
    // Paged CSV exports carry their next cursor in a header (README, "CSV exports").
    exposeHeaders: ['x-next-cursor', 'link', 'location', 'content-disposition'],
    maxAge: 3600,
  };
  new CfnOutput(stack, 'ConsoleUrl', {
    value: `${site.origin}/`,
    description: 'The admin console: sign in with a tenant API key',
  });
  return site;
}

/**
 * BucketDeployment's provider: CDK's own singleton custom resource Lambda. Its role's findings,
 * each acknowledged on its own (the asset bucket's name is the default bootstrap qualifier's).
 */
function acknowledgeDeploymentProvider(stack: Stack, bucket: s3.Bucket): void {
  const bucketRef = stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
  const provider = stack.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
  if (!provider) return;
  const { account, region } = nagEnv(stack);
  const why = {
    assets:
      "CDK's BucketDeployment provider reads the deployment's files from the CDK bootstrap assets bucket",
    files: "CDK's BucketDeployment provider writes and prunes this console's files (its own bucket only)",
  };
  Validations.of(provider).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: "CDK's BucketDeployment provider writes its logs with the basic execution managed policy",
    },
    { id: 'AwsSolutions-IAM5[Action::s3:GetBucket*]', reason: why.assets },
    { id: 'AwsSolutions-IAM5[Action::s3:GetObject*]', reason: why.assets },
    { id: 'AwsSolutions-IAM5[Action::s3:List*]', reason: why.assets },
    {
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${account}-${region}/*]`,
      reason: why.assets,
    },
    { id: 'AwsSolutions-IAM5[Action::s3:Abort*]', reason: why.files },
    { id: 'AwsSolutions-IAM5[Action::s3:DeleteObject*]', reason: why.files },
    { id: `AwsSolutions-IAM5[Resource::<${bucketRef}.Arn>/*]`, reason: why.files },
    {
      id: 'AwsSolutions-L1',
      reason:
        "CDK's BucketDeployment provider: its runtime is aws-cdk-lib's choice, updated with aws-cdk-lib",
    },
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudfront:CreateInvalidation after each deploy (CDK grants it on *; invalidations are harmless)',
    },
  );
}

function acknowledge(scope: Construct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * console/ as a CDK asset, built at synth by `node bin/build-console.ts --out <dir>` with the Node
 * running the CDK app (the project's Node 24); no Docker fallback: the console needs this repo's
 * node_modules, so a machine without them says so.
 */
function consoleAsset(): s3deploy.ISource {
  return s3deploy.Source.asset(CONSOLE_DIR, {
    exclude: ['dist', 'node_modules'],
    // The build's own hash: the console also bundles a few pure modules of functions/core, which a
    // hash of console/ alone would miss.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:24-slim'),
      command: [
        'sh',
        '-c',
        'echo "Build the console with the repository: npm ci && npm run build" >&2; exit 1',
      ],
      local: {
        tryBundle(outputDir: string): boolean {
          execFileSync(
            process.execPath,
            [path.join(CONSOLE_DIR, '..', 'bin', 'build-console.ts'), '--out', outputDir],
            {
              stdio: 'inherit',
            },
          );
          return true;
        },
      },
    },
  });
}
