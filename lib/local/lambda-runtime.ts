import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvokeStoreBase } from '@aws/lambda-invoke-store';
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
 * The twin runs every function's invocations in one process, many at once, as Lambda Managed
 * Instances runs one function's. That runtime sets AWS_LAMBDA_MAX_CONCURRENCY and runs each invocation
 * in its own scope of the InvokeStore (globalThis.awslambda.InvokeStore, @aws/lambda-invoke-store);
 * Powertools then keeps each invocation's Lambda context (a log line's function_name and request id),
 * metrics and batch state apart, instead of in one slot the latest invocation overwrites. The twin
 * does the same while it runs. The store is the twin's own: the SDK may already have made the
 * classic runtime's single-slot one. Returns the undo: the variable and the store go when the last
 * twin of the process stops.
 */
export function scopeInvocations(): () => void {
  scopes += 1;
  if (scopes === 1) {
    previous = {
      maxConcurrency: process.env.AWS_LAMBDA_MAX_CONCURRENCY,
      store: globalThis.awslambda?.InvokeStore,
    };
    // Its presence is what counts: nothing in the twin limits concurrency by it.
    process.env.AWS_LAMBDA_MAX_CONCURRENCY ??= '1000';
    globalThis.awslambda = globalThis.awslambda ?? ({} as typeof globalThis.awslambda);
    globalThis.awslambda.InvokeStore = invocationScopes;
  }
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    scopes -= 1;
    if (scopes > 0) return;
    if (previous.maxConcurrency === undefined) delete process.env.AWS_LAMBDA_MAX_CONCURRENCY;
    else process.env.AWS_LAMBDA_MAX_CONCURRENCY = previous.maxConcurrency;
    globalThis.awslambda.InvokeStore = previous.store;
  };
}

/**
 * The InvokeStore of a runtime with concurrent invocations: one AsyncLocalStorage scope each. Code
 * outside every invocation (a test calling a handler directly while a twin runs) shares one slot, as
 * on the classic runtime, instead of failing as the managed-instances store does there.
 */
class InvocationScopes extends InvokeStoreBase {
  readonly #scopes = new AsyncLocalStorage<Record<string | symbol, unknown>>();
  readonly #outside: Record<string | symbol, unknown> = {};
  #current() {
    return this.#scopes.getStore() ?? this.#outside;
  }
  getContext() {
    return this.#scopes.getStore();
  }
  hasContext() {
    return this.#scopes.getStore() !== undefined;
  }
  get<T = unknown>(key: string | symbol): T | undefined {
    return this.#current()[key] as T | undefined;
  }
  set<T = unknown>(key: string | symbol, value: T): void {
    if (this.isProtectedKey(key))
      throw new Error(`Cannot modify protected Lambda context field: ${String(key)}`);
    this.#current()[key] = value;
  }
  run<T>(context: Record<string | symbol, unknown>, fn: () => T): T {
    return this.#scopes.run(context, fn);
  }
}

const invocationScopes = new InvocationScopes();
let scopes = 0;
let previous: { maxConcurrency?: string; store?: InvokeStoreBase } = {};

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
    const run = () => handler(event, context);
    const invocation =
      scopes > 0
        ? invocationScopes.run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: context.awsRequestId }, run)
        : run();
    return await Promise.race([invocation, timeout]);
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
