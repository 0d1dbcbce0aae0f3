/**
 * AWS list prices the cost figure uses: us-east-1, on-demand, no free tier, no Savings Plans.
 * The one place they live; when AWS changes a price, change it here and say when.
 *
 * Twilio's and Meta's per-message fees are not here on purpose: they are thousands of dollars per
 * million messages, charged by them, and the same whatever this system does.
 */
export interface PriceList {
  /** When the figures below were last compared with the pages in `sources`. */
  readonly checkedOn: string;
  readonly region: string;
  readonly dynamodb: {
    /** On-demand, per write request unit (1 KB; transactional writes take 2 per KB). */
    readonly perMillionWriteUnits: number;
    /** On-demand, per read request unit (4 KB strongly consistent, or two eventually consistent). */
    readonly perMillionReadUnits: number;
  };
  /** Standard queue, per request; every 64 KB of a request's payload is one request. */
  readonly sqs: { readonly perMillionRequests: number; readonly chunkBytes: number };
  readonly lambda: {
    readonly perMillionRequests: number;
    /** arm64, first pricing tier. */
    readonly perGbSecondArm64: number;
  };
  /** HTTP API, first 300 million a month; metered in 512 KB increments. */
  readonly apiGatewayHttp: { readonly perMillionRequests: number; readonly incrementBytes: number };
  /**
   * EventBridge rules on a schedule (`rate(5 minutes)`): events AWS itself generates are not
   * charged, only the Lambda invocations they trigger (counted as Lambda).
   */
  readonly eventBridge: { readonly perMillionScheduledRuleFirings: number };
  /** CloudWatch Logs, Standard class, ingestion; what Lambda's log lines cost. */
  readonly cloudWatchLogs: { readonly perGbIngested: number };
  readonly sources: Readonly<Record<string, string>>;
}

export const PRICES: PriceList = {
  checkedOn: '2026-11-23',
  region: 'us-east-1',
  // After the November 2024 on-demand price cut (halved from $1.25 / $0.25).
  dynamodb: { perMillionWriteUnits: 0.625, perMillionReadUnits: 0.125 },
  sqs: { perMillionRequests: 0.4, chunkBytes: 64 * 1024 },
  lambda: { perMillionRequests: 0.2, perGbSecondArm64: 0.0000133334 },
  apiGatewayHttp: { perMillionRequests: 1.0, incrementBytes: 512 * 1024 },
  eventBridge: { perMillionScheduledRuleFirings: 0 },
  cloudWatchLogs: { perGbIngested: 0.5 },
  sources: {
    dynamodb: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    sqs: 'https://aws.amazon.com/sqs/pricing/',
    lambda: 'https://aws.amazon.com/lambda/pricing/',
    apiGatewayHttp: 'https://aws.amazon.com/api-gateway/pricing/',
    eventBridge: 'https://aws.amazon.com/eventbridge/pricing/',
    cloudWatchLogs: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
};
