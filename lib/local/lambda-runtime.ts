import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import type { FunctionSpec } from '../topology.ts';

/** A handler as Lambda calls it: one event in, one result out. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** What the local twin calls in place of Lambda's Invoke API. */
export type Invoke = (event: unknown) => Promise<unknown>;

/** Lambda's own words when it abandons an invocation ("Task timed out after 3.00 seconds"). */
export class LambdaTimeoutError extends Error {
  constructor(functionName: string, timeoutSeconds: number) {
    super(`Task timed out after ${timeoutSeconds.toFixed(2)} seconds (${functionName})`);
    this.name = 'LambdaTimeoutError';
  }
}

/**
 * Loads a function's handler module the way Lambda would (once, at cold start) and
 * returns an invoker that gives each call a Lambda-shaped context and enforces the
 * function's timeout. Everything runs in this process: the point is the same handler
 * code, not isolation.
 */
export async function loadFunction(name: string, spec: FunctionSpec, rootDir: string): Promise<Invoke> {
  const moduleUrl = pathToFileURL(path.resolve(rootDir, spec.entry)).href;
  const mod = (await import(moduleUrl)) as { handler?: LambdaHandler };
  const handler = mod.handler;
  if (typeof handler !== 'function') throw new Error(`${spec.entry} does not export a handler function`);
  return (event) => invokeWithTimeout(name, spec, handler, event);
}

/**
 * Invokes `handler` as Lambda would, within the function's timeout. Past it the invocation is
 * abandoned, as Lambda does: the call rejects with LambdaTimeoutError and whatever the handler returns
 * or throws later is discarded (an SQS batch is then failed whole and comes back after its visibility
 * timeout). Lambda also stops the handler's code; in one process the twin cannot, so an abandoned
 * handler runs on, and its later writes land like those of a slow duplicate.
 */
export async function invokeWithTimeout(
  name: string,
  spec: Pick<FunctionSpec, 'timeoutSeconds' | 'memoryMb'>,
  handler: LambdaHandler,
  event: unknown,
): Promise<unknown> {
  const deadline = Date.now() + spec.timeoutSeconds * 1000;
  const context = lambdaContext(name, spec.memoryMb, deadline);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LambdaTimeoutError(name, spec.timeoutSeconds)),
      spec.timeoutSeconds * 1000,
    );
  });
  try {
    return await Promise.race([handler(event, context), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function lambdaContext(functionName: string, memoryMb: number, deadline: number): Context {
  const requestId = randomUUID();
  const fail = () => {
    throw new Error('Callback-style completion is not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: fail,
    fail,
    succeed: fail,
  };
}
