import { ApiError } from './errors.ts';

/**
 * One dependency check: resolves when the dependency answered, rejects otherwise. It should stop
 * when `signal` aborts (the deadline passed); it is not awaited past the deadline either way.
 */
export type Probe = (signal: AbortSignal) => Promise<void>;

/** GET /healthz's 200 body: every dependency answered. */
export interface HealthReport {
  readonly ok: true;
  readonly checks: Readonly<Record<string, 'ok'>>;
}

/** One failed dependency, in `details` of DEPENDENCY_UNAVAILABLE. */
export interface DependencyProblem {
  /** The probe's name: `dynamodb`, `sqs`. */
  readonly dependency: string;
  /** What went wrong, without the error's text (the route is public): `did not answer within 2000 ms`. */
  readonly message: string;
}

/**
 * Runs every probe at once, each with `timeoutMs` to answer.
 *
 * @returns `{ ok: true, checks: { <name>: 'ok', … } }` when all answered.
 * @throws ApiError DEPENDENCY_UNAVAILABLE (503) whose `details` are one DependencyProblem per failed
 *   probe; `failures` receives each failure's error (for the log) before it throws.
 */
export async function checkDependencies(
  probes: Readonly<Record<string, Probe>>,
  timeoutMs: number,
  failures: (dependency: string, error: unknown) => void = () => {},
): Promise<HealthReport> {
  const names = Object.keys(probes);
  const outcomes = await Promise.all(
    names.map((name) =>
      withDeadline(probes[name] as Probe, timeoutMs).then(
        () => undefined,
        (e) => e,
      ),
    ),
  );
  const problems: DependencyProblem[] = [];
  outcomes.forEach((error, i) => {
    if (error === undefined) return;
    const dependency = names[i] as string;
    failures(dependency, error);
    problems.push({ dependency, message: describeFailure(error, timeoutMs) });
  });
  if (problems.length > 0)
    throw new ApiError(
      'DEPENDENCY_UNAVAILABLE',
      `Not healthy: ${problems.map((p) => p.dependency).join(', ')} unavailable`,
      problems.map((p) => ({ dependency: p.dependency, message: p.message })),
    );
  return { ok: true, checks: Object.fromEntries(names.map((name) => [name, 'ok' as const])) };
}

class DeadlineExceeded extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'DeadlineExceeded';
  }
}

async function withDeadline(probe: Probe, timeoutMs: number): Promise<void> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DeadlineExceeded(timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    await Promise.race([probe(controller.signal), deadline]);
  } catch (error) {
    throw controller.signal.aborted ? new DeadlineExceeded(timeoutMs) : error;
  } finally {
    clearTimeout(timer);
  }
}

/** A label for the error that names its kind (a network code, an AWS error name), never its text. */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof DeadlineExceeded) return `did not answer within ${timeoutMs} ms`;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code) return `failed: ${code}`;
  const name = error instanceof Error ? error.name : '';
  return name && name !== 'Error' ? `failed: ${name}` : 'failed';
}
