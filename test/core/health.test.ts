import { describe, expect, it } from 'vitest';
import { ApiError } from '../../functions/core/errors.ts';
import { checkDependencies } from '../../functions/core/health.ts';

const answers = async () => {};

describe('checkDependencies (GET /healthz)', () => {
  it('reports every dependency ok when each answers', async () => {
    await expect(checkDependencies({ dynamodb: answers, sqs: answers }, 100)).resolves.toEqual({
      ok: true,
      checks: { dynamodb: 'ok', sqs: 'ok' },
    });
  });

  it('names each failed dependency by the kind of failure, never the error text', async () => {
    const refused = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:41234'), { code: 'ECONNREFUSED' });
    };
    const denied = async () => {
      throw Object.assign(new Error('User arn:aws:sts::123456789012:assumed-role/x is not authorized'), {
        name: 'AccessDeniedException',
      });
    };
    const logged: string[] = [];
    const error = await checkDependencies({ dynamodb: refused, sqs: denied }, 100, (d) =>
      logged.push(d),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect(apiError.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(apiError.status).toBe(503);
    expect(apiError.message).toBe('Not healthy: dynamodb, sqs unavailable');
    expect(apiError.details).toEqual([
      { dependency: 'dynamodb', message: 'failed: ECONNREFUSED' },
      { dependency: 'sqs', message: 'failed: AccessDeniedException' },
    ]);
    expect(JSON.stringify(apiError.details)).not.toContain('123456789012');
    expect(logged).toEqual(['dynamodb', 'sqs']);
  });

  it('gives up on a dependency that does not answer by the deadline, and aborts its call', async () => {
    let aborted = false;
    const hangs = (signal: AbortSignal) =>
      new Promise<void>(() => {
        signal.addEventListener('abort', () => {
          aborted = true;
        });
      });
    const started = Date.now();
    const error = (await checkDependencies({ dynamodb: answers, sqs: hangs }, 50).catch(
      (e: unknown) => e,
    )) as ApiError;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.details).toEqual([{ dependency: 'sqs', message: 'did not answer within 50 ms' }]);
    expect(aborted).toBe(true);
  });
});
