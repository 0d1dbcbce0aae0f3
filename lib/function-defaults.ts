import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * ESM bundles still meet CommonJS dependencies (twilio, parts of Powertools) that call
 * `require`; esbuild's ESM output only finds it when the module defines one.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export interface ServiceFunctionProps {
  /** Absolute path of the handler module (it exports `handler`). */
  readonly entry: string;
  /** Absolute path of the repository root: the bundling project root and its lock file. */
  readonly projectRoot: string;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly environment: Record<string, string>;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** Application and system log level: at WARN, Lambda writes no START/END/REPORT lines. */
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** X-Ray active tracing. */
  readonly tracing: boolean;
}

/**
 * One Lambda function with the defaults every function of the service shares: Node.js 24
 * on arm64, an ESM bundle built by the local esbuild (never Docker), source maps, JSON logs at
 * a chosen level, X-Ray only when asked for, its own log group with a retention, and its own role that starts empty: the only
 * permissions it gets are writing to its log group plus what the caller grants.
 */
export class ServiceFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // An explicit role instead of the AWSLambdaBasicExecutionRole managed policy, which
    // would let the function write to any log group in the account.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      description: props.description,
      role: this.role,
      logGroup: this.logGroup,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      // JSON logs (Powertools writes JSON anyway), filtered by Lambda at the level set: CloudWatch
      // Logs bills every GB ingested, and START/END/REPORT lines are three per invocation.
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[props.logLevel],
      systemLogLevelV2: props.logLevel === 'DEBUG' ? lambda.SystemLogLevel.DEBUG : lambda.SystemLogLevel.WARN,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: 'node24',
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
      },
    });
    // Depending on the role construct covers its default policy too, so the function is
    // created only once its grants (logs, tables, queues, secrets) exist.
    this.function.node.addDependency(this.role);
  }
}
