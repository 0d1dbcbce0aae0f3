import { appendFileSync } from 'node:fs';
import type { Topology } from '../topology.ts';
import { type GrantGuard as Guard, startGrantGuard } from './grant-guard.ts';
import type { LocalQueues } from './sqs-local.ts';

export interface GrantGuard extends Guard {
  /** Throws (once) when refused calls are left: the twin's stop() calls it last, so a test file fails. */
  failOnDenied(): void;
}

/**
 * The twin's grant guard over its resources. Each refusal is logged at ERROR. With a `logFile`
 * (TWIN_GRANTS_LOG), every permission each function's calls needed is appended to it as a JSON line
 * (`{"function":"settings","action":"dynamodb:GetItem","arn":"…","keys":["TENANT#t1"]}`): what a
 * new function's `uses` has to declare.
 */
export function startGuardFor(
  topo: Topology,
  where: {
    queues: LocalQueues['queues'];
    tableNames: Record<string, string>;
    buckets: Record<string, string>;
    scheduleGroups: Record<string, { name: string }>;
  },
  log: (entry: Record<string, unknown>) => void,
  logFile?: string,
): GrantGuard {
  const lastPart = (url: string) => url.split('/').pop() ?? '';
  const guard = startGrantGuard(
    topo,
    {
      tables: where.tableNames,
      queues: Object.fromEntries(
        Object.entries(where.queues).map(([id, q]) => [
          id,
          { main: lastPart(q.main.url), deadLetter: lastPart(q.deadLetter.url) },
        ]),
      ),
      buckets: where.buckets,
      scheduleGroups: Object.fromEntries(Object.entries(where.scheduleGroups).map(([id, g]) => [id, g.name])),
    },
    {
      onDenied: (call) => log({ level: 'ERROR', source: 'grants', ...call }),
      ...(logFile
        ? {
            onChecked: (functionId, needs) =>
              appendFileSync(
                logFile,
                needs.map((n) => `${JSON.stringify({ function: functionId, ...n })}\n`).join(''),
              ),
          }
        : {}),
    },
  );
  return {
    ...guard,
    failOnDenied: () => {
      const denied = guard.denied();
      if (denied.length === 0) return;
      // Said once: a second stop() (a harness's own, after a test's) succeeds.
      guard.forget();
      const lines = denied.slice(0, 10).map((d) => `- ${d.function}: ${d.action} on ${d.resource}`);
      throw new Error(
        `Functions made ${denied.length} AWS call(s) their topology uses do not grant (lib/topology.ts); on AWS IAM refuses them:\n${lines.join('\n')}`,
      );
    },
  };
}
