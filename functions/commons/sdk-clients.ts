/**
 * Every AWS SDK client the handlers make is announced here, so the host running the handlers can add
 * middleware to it. On Lambda nothing listens and this costs nothing. The local twin listens: it
 * refuses, the way IAM would, the calls a function's topology `uses` does not grant
 * (lib/local/grant-guard.ts), and the benchmark counts requests.
 */

/** What every SDK v3 client has: its middleware stack (typed loosely, so one hook serves them all). */
export interface SdkClient {
  readonly middlewareStack: { add(middleware: never, options: never): void };
}
export type ClientHook = (client: SdkClient, service: SdkService) => void;
export type SdkService = 'dynamodb' | 'sqs' | 's3' | 'scheduler';

const hooks = new Set<ClientHook>();
/** Clients made so far (weakly: a destroyed client may go), for hooks added after them. */
const made = new Set<WeakRef<SdkClient>>();
const services = new WeakMap<SdkClient, SdkService>();

/** Announces a new client of `service`; returns it. */
export function announced<T extends SdkClient>(client: T, service: SdkService): T {
  services.set(client, service);
  made.add(new WeakRef(client));
  for (const hook of hooks) hook(client, service);
  return client;
}

/**
 * Calls `hook` on every client made so far and every one made from now on, until the returned
 * function is called. A hook adding middleware should name it (`override: true`): a client made
 * before may already have it from an earlier hook.
 */
export function onEveryClient(hook: ClientHook): () => void {
  for (const ref of made) {
    const client = ref.deref();
    const service = client && services.get(client);
    if (client && service) hook(client, service);
    else made.delete(ref);
  }
  hooks.add(hook);
  return () => hooks.delete(hook);
}
