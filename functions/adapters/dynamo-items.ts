/** Small helpers every DynamoDB adapter on the single table shares. */

/** An item without its table keys: what the domain sees. */
export function strip(item: Record<string, unknown>): Record<string, unknown> {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest;
}

/** A conditional write whose condition did not hold (the caller decides whether that is fine). */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
