/**
 * AWS list prices the cost figure uses: us-east-1, on-demand, no free tier, no Savings Plans. The one
 * place they live, each with its source; when AWS changes a price, change it here and say when.
 *
 * Twilio's and Meta's per-message fees are not here on purpose: they are thousands of dollars per
 * million messages, charged by them, and the same whatever this system does.
 */
export interface PriceList {
  /** When the figures below were last compared with the pages in `sources`. */
  readonly checkedOn: string;
  readonly region: string;
  readonly dynamodb: {
    /**
     * On-demand, per write request unit: 1 KB of item (the larger of before and after), 2 per KB in
     * a transaction, plus each global secondary index write (bench/dynamo-units.ts).
     */
    readonly perMillionWriteUnits: number;
    /** On-demand, per read request unit: 4 KB strongly consistent, or two eventually consistent. */
    readonly perMillionReadUnits: number;
    /**
     * DynamoDB Streams read request units: not charged when the reader is a Lambda event source
     * mapping (the aggregator), so 0 here; its invocations and writes are counted like any function's.
     */
    readonly perMillionStreamReadsByLambda: number;
  };
  /** Standard queue, per request; every 64 KB of a request's payload is one request. */
  readonly sqs: { readonly perMillionRequests: number; readonly chunkBytes: number };
  readonly lambda: {
    readonly perMillionRequests: number;
    /** arm64, first pricing tier. */
    readonly perGbSecondArm64: number;
    /** A Function URL adds nothing to the invocation it makes. */
    readonly perMillionFunctionUrlRequests: number;
  };
  /** HTTP API, first 300 million a month; metered in 512 KB increments. */
  readonly apiGatewayHttp: { readonly perMillionRequests: number; readonly incrementBytes: number };
  /**
   * EventBridge rules on a schedule (`rate(1 minute)`): events AWS itself generates are not charged,
   * only the Lambda invocations they trigger (counted as Lambda).
   */
  readonly eventBridge: { readonly perMillionScheduledRuleFirings: number };
  /** CloudWatch Logs, Standard class, ingestion; what Lambda's log lines cost. */
  readonly cloudWatchLogs: { readonly perGbIngested: number };
  /** X-Ray traces recorded; active tracing is off by default (lib/stack.ts `tracing`), so none are. */
  readonly xray: { readonly perMillionTracesRecorded: number };
  readonly sources: Readonly<Record<string, string>>;
}

export const PRICES: PriceList = {
  checkedOn: '2026-11-30',
  region: 'us-east-1',
  // After the November 2024 on-demand price cut (halved from $1.25 / $0.25).
  dynamodb: { perMillionWriteUnits: 0.625, perMillionReadUnits: 0.125, perMillionStreamReadsByLambda: 0 },
  sqs: { perMillionRequests: 0.4, chunkBytes: 64 * 1024 },
  lambda: { perMillionRequests: 0.2, perGbSecondArm64: 0.0000133334, perMillionFunctionUrlRequests: 0 },
  apiGatewayHttp: { perMillionRequests: 1.0, incrementBytes: 512 * 1024 },
  eventBridge: { perMillionScheduledRuleFirings: 0 },
  cloudWatchLogs: { perGbIngested: 0.5 },
  xray: { perMillionTracesRecorded: 5.0 },
  sources: {
    dynamodb: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    dynamodbUnits:
      'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html (units per operation), CapacityUnitCalculations.html (item sizes), transaction-apis.html (2 per item), GSI.html (index writes)',
    dynamodbStreams:
      'https://aws.amazon.com/dynamodb/pricing/on-demand/ (DynamoDB Streams: "You are not charged for GetRecords API calls invoked by AWS Lambda as part of DynamoDB triggers")',
    sqs: 'https://aws.amazon.com/sqs/pricing/ (each 64 KB chunk of a payload is billed as 1 request)',
    lambda: 'https://aws.amazon.com/lambda/pricing/',
    lambdaFunctionUrls:
      'https://aws.amazon.com/blogs/aws/announcing-aws-lambda-function-urls-built-in-https-endpoints-for-single-function-microservices/ ("no additional cost for using function URLs"; the standard Lambda price applies)',
    apiGatewayHttp: 'https://aws.amazon.com/api-gateway/pricing/',
    eventBridge: 'https://aws.amazon.com/eventbridge/pricing/',
    cloudWatchLogs: 'https://aws.amazon.com/cloudwatch/pricing/',
    lambdaLogLevels:
      'https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html (system log level WARN: no START/END/REPORT lines, which are INFO)',
    xray: 'https://aws.amazon.com/xray/pricing/',
  },
};
