// The exact HTTP answers DynamoDB and SQS give for the faults TWIN_FAULTS injects, so the real AWS SDK
// v3 deserializes them into its own error classes and retries them (or not) as it does against AWS.
// Both services speak the AWS JSON 1.0 protocol here: `__type` names the error shape; SQS (AWS query
// compatible) also sends `x-amzn-query-error: <Code>;<Sender|Receiver>`, which the SDK reads first.
import { randomBytes, randomUUID } from 'node:crypto';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../aws-local.ts';

export interface WireAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

const JSON_1_0 = 'application/x-amz-json-1.0';
const DYNAMODB_NAMESPACE = 'com.amazonaws.dynamodb.v20120810#';

// Messages as DynamoDB returns them; source: the TransactionCanceledException and
// ProvisionedThroughputExceededException documentation in @aws-sdk/client-dynamodb's model
// (CancellationReasons codes and messages), and real on-demand throttling answers
// (aws/aws-sdk-java#2222: "Error Code: ThrottlingException; Status Code: 400").
const TRANSACTION_CONFLICT = 'Transaction is ongoing for the item';
const ON_DEMAND_THROTTLED =
  'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling ' +
  'your table or index so please try again shortly. If exceptions persist, check if you have a hot key: ' +
  'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html';
const PROVISIONED_EXCEEDED =
  'The level of configured provisioned throughput for the table was exceeded. ' +
  'Consider increasing your provisioning level with the UpdateTable API.';

const READ_OPERATIONS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);

/** The parts of a DynamoDB request body the answers depend on. */
interface DynamoRequest {
  TableName?: string;
  RequestItems?: Record<string, unknown>;
  TransactItems?: readonly Record<string, { TableName?: string } | undefined>[];
}

/**
 * DynamoDB's answer for `fault` on `operation` (the catalogue in spec.ts says where each applies).
 * `pick(n)` chooses which item of a transaction carries the cancellation reason.
 *
 * - TransactionConflict: on TransactWriteItems/TransactGetItems, 400 TransactionCanceledException whose
 *   CancellationReasons has one entry per TransactItems element, `None` but for one
 *   `TransactionConflict`; on PutItem/UpdateItem/DeleteItem, 400 TransactionConflictException.
 *   The SDK retries neither (DynamoDB developer guide, "Transaction conflict handling").
 * - ThrottlingError: the same cancellation, the reason `ThrottlingError` (on-demand throttling).
 * - ThrottlingException, ProvisionedThroughputExceededException: 400 with ThrottlingReasons
 *   (API_ThrottlingReason: `Table{Read|Write}<limit>` and the table's ARN); the SDK retries both.
 * - InternalServerError: 500; the SDK retries it.
 */
export function dynamodbFaultAnswer(
  fault: string,
  operation: string,
  requestBody: string,
  pick: (n: number) => number,
): WireAnswer {
  const request = parseJson<DynamoRequest>(requestBody);
  const transaction = operation === 'TransactWriteItems' || operation === 'TransactGetItems';
  switch (fault) {
    case 'TransactionConflict':
      return transaction
        ? cancelled(request, pick, { Code: 'TransactionConflict', Message: TRANSACTION_CONFLICT })
        : dynamodbError(400, 'TransactionConflictException', { message: TRANSACTION_CONFLICT });
    case 'ThrottlingError':
      return cancelled(request, pick, { Code: 'ThrottlingError', Message: ON_DEMAND_THROTTLED });
    case 'ThrottlingException':
      return dynamodbError(400, 'ThrottlingException', {
        message: ON_DEMAND_THROTTLED,
        throttlingReasons: [throttlingReason(request, operation, 'KeyRangeThroughputExceeded')],
      });
    case 'ProvisionedThroughputExceededException':
      return dynamodbError(400, 'ProvisionedThroughputExceededException', {
        message: PROVISIONED_EXCEEDED,
        ThrottlingReasons: [throttlingReason(request, operation, 'ProvisionedThroughputExceeded')],
      });
    case 'InternalServerError':
      return dynamodbError(500, 'InternalServerError', { message: 'Internal server error' });
    default:
      throw new Error(`No DynamoDB answer for fault ${fault}`);
  }
}

function cancelled(
  request: DynamoRequest | undefined,
  pick: (n: number) => number,
  reason: { Code: string; Message: string },
): WireAnswer {
  const count = Math.max(1, request?.TransactItems?.length ?? 1);
  const failing = pick(count);
  const reasons = Array.from({ length: count }, (_, i) => (i === failing ? reason : { Code: 'None' }));
  return dynamodbError(400, 'TransactionCanceledException', {
    CancellationReasons: reasons,
    Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons
      .map((r) => r.Code)
      .join(', ')}]`,
  });
}

function throttlingReason(
  request: DynamoRequest | undefined,
  operation: string,
  limit: string,
): { reason: string; resource: string } {
  const table =
    request?.TableName ??
    Object.keys(request?.RequestItems ?? {})[0] ??
    Object.values(request?.TransactItems?.[0] ?? {})[0]?.TableName ??
    'unknown';
  return {
    reason: `Table${READ_OPERATIONS.has(operation) ? 'Read' : 'Write'}${limit}`,
    resource: `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${table}`,
  };
}

function dynamodbError(status: number, shape: string, fields: Record<string, unknown>): WireAnswer {
  return {
    status,
    headers: {
      'content-type': JSON_1_0,
      // DynamoDB's request ids: 52 characters of [A-Z0-9].
      'x-amzn-requestid': randomBytes(26).toString('hex').toUpperCase(),
    },
    body: JSON.stringify({ __type: `${DYNAMODB_NAMESPACE}${shape}`, ...fields }),
  };
}

/**
 * SQS's answer for a whole-call `fault` (Amazon SQS API reference, "Common Errors" and each
 * action's Errors; the JSON error shape from the SQS developer guide, "Interpreting Amazon SQS JSON
 * API responses"). The SDK retries all four: 503 and 500 as transient, the throttling codes as
 * throttling.
 */
export function sqsFaultAnswer(fault: string): WireAnswer {
  switch (fault) {
    case 'ServiceUnavailable':
      return sqsError(
        503,
        fault,
        'Receiver',
        'The request has failed due to a temporary failure of the server.',
      );
    case 'ThrottlingException':
      return sqsError(400, fault, 'Sender', 'The request was denied due to request throttling.');
    case 'RequestThrottled':
      return sqsError(
        403,
        fault,
        'Sender',
        'The request was denied due to request throttling. Exceeds the permitted request rate for the queue or for the recipient of the request.',
      );
    case 'InternalFailure':
      return sqsError(
        500,
        fault,
        'Receiver',
        'The request processing has failed because of an unknown error, exception or failure.',
      );
    default:
      throw new Error(`No SQS answer for fault ${fault}`);
  }
}

function sqsError(status: number, code: string, type: 'Sender' | 'Receiver', message: string): WireAnswer {
  return {
    status,
    headers: {
      'content-type': JSON_1_0,
      'x-amzn-requestid': randomUUID(),
      'x-amzn-query-error': `${code};${type}`,
    },
    body: JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }),
  };
}

/**
 * A batch entry SQS did not take, as SendMessageBatch/DeleteMessageBatch report it in `Failed`
 * (BatchResultErrorEntry): a server-side failure (SenderFault false), so the sender may retry it.
 * The code is the one SQS reports for such entries (aws/aws-sdk-java#2562).
 */
export function sqsFailedEntry(id: string): {
  Id: string;
  SenderFault: boolean;
  Code: string;
  Message: string;
} {
  return {
    Id: id,
    SenderFault: false,
    Code: 'InternalError',
    Message: 'We encountered an internal error. Please try again.',
  };
}

export function sqsBatchAnswer(successful: readonly unknown[], failed: readonly unknown[]): WireAnswer {
  return {
    status: 200,
    headers: { 'content-type': JSON_1_0, 'x-amzn-requestid': randomUUID() },
    body: JSON.stringify({ Successful: successful, Failed: failed }),
  };
}

export function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
