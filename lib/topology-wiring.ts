import { tableGrantProblems } from './table-access.ts';
import type { FunctionSpec, Topology } from './topology.ts';

/**
 * What both builders (lib/stack.ts, lib/local/twin.ts) do with the topology (lib/topology.ts): check
 * that it holds together, and give each function the environment of the resources it uses.
 */

/**
 * The environment variables a function receives for the resources it uses, resolved
 * by the builder that knows where those resources are (CDK tokens, or local URLs).
 */
export interface ResourceLocator {
  tableName(id: string): string;
  queueUrl(id: string): string;
  deadLetterQueueUrl(id: string): string;
  secretArn(id: string): string;
  /** A secret name prefix (`<stack name>/tenantTwilio/` on AWS, `local/tenantTwilio/` in the twin). */
  secretPrefix?(id: string): string;
  functionUrl(id: string): string;
  bucketName(id: string): string;
  /** A schedule group's name, its target function's ARN, its invoke role's ARN, its DLQ's ARN. */
  scheduleGroup(id: string): { name: string; targetArn: string; roleArn: string; deadLetterArn: string };
  eventBusName(id: string): string;
}

export function resourceEnvironment(
  topo: Topology,
  fn: FunctionSpec,
  locate: ResourceLocator,
  options: { includeSecrets: boolean },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const id of Object.keys(fn.uses.tables ?? {}))
    env[mustGet(topo.tables, id, 'table').envVar] = locate.tableName(id);
  for (const id of Object.keys(fn.uses.queues ?? {}))
    env[mustGet(topo.queues, id, 'queue').envVar] = locate.queueUrl(id);
  for (const id of Object.keys(fn.uses.deadLetterQueues ?? {}))
    env[mustGet(topo.queues, id, 'queue').deadLetter.envVar] = locate.deadLetterQueueUrl(id);
  if (options.includeSecrets)
    for (const id of fn.uses.secrets ?? [])
      env[mustGet(topo.secrets, id, 'secret').envVar] = locate.secretArn(id);
  for (const id of Object.keys(fn.uses.secretPrefixes ?? {})) {
    if (!locate.secretPrefix) throw new Error(`No secret prefix ${id} where this function runs`);
    env[mustGet(topo.secretPrefixes ?? {}, id, 'secret prefix').envVar] = locate.secretPrefix(id);
  }
  for (const id of fn.uses.functionUrls ?? [])
    env[mustGet(topo.functionUrls, id, 'function URL').envVar] = locate.functionUrl(id);
  for (const id of Object.keys(fn.uses.buckets ?? {}))
    env[mustGet(topo.buckets, id, 'bucket').envVar] = locate.bucketName(id);
  for (const id of fn.uses.scheduleGroups ?? []) {
    const spec = mustGet(topo.scheduleGroups, id, 'schedule group');
    const where = locate.scheduleGroup(id);
    env[spec.envVar] = where.name;
    env[spec.targetArnEnvVar] = where.targetArn;
    env[spec.roleArnEnvVar] = where.roleArn;
    env[spec.deadLetter.envVar] = where.deadLetterArn;
  }
  for (const id of fn.uses.eventBuses ?? [])
    env[mustGet(topo.eventBuses ?? {}, id, 'event bus').envVar] = locate.eventBusName(id);
  return env;
}

/** Checks the references inside a topology; both builders call it so a typo fails early. */
export function validateTopology(topo: Topology): void {
  const problems: string[] = [];
  const fnIds = new Set(Object.keys(topo.functions));
  for (const [id, fn] of Object.entries(topo.functions)) {
    for (const [t, access] of Object.entries(fn.uses.tables ?? {})) {
      const table = topo.tables[t];
      if (!table) problems.push(`${id} uses unknown table ${t}`);
      else problems.push(...tableGrantProblems(id, t, access, table));
    }
    for (const q of Object.keys(fn.uses.queues ?? {}))
      if (!topo.queues[q]) problems.push(`${id} uses unknown queue ${q}`);
    for (const s of fn.uses.secrets ?? [])
      if (!topo.secrets[s]) problems.push(`${id} uses unknown secret ${s}`);
    for (const p of Object.keys(fn.uses.secretPrefixes ?? {}))
      if (!topo.secretPrefixes?.[p]) problems.push(`${id} uses unknown secret prefix ${p}`);
    for (const u of fn.uses.functionUrls ?? [])
      if (!topo.functionUrls[u]) problems.push(`${id} uses unknown function URL ${u}`);
    for (const b of Object.keys(fn.uses.buckets ?? {}))
      if (!topo.buckets[b]) problems.push(`${id} uses unknown bucket ${b}`);
  }
  for (const [id, bucket] of Object.entries(topo.buckets))
    for (const n of bucket.notifications)
      if (!topo.queues[n.queue]) problems.push(`bucket ${id} notifies unknown queue ${n.queue}`);
  for (const [id, url] of Object.entries(topo.functionUrls))
    if (!fnIds.has(url.function)) problems.push(`function URL ${id} names unknown function ${url.function}`);
  for (const c of topo.streamConsumers) {
    if (!fnIds.has(c.function)) problems.push(`stream consumer names unknown function ${c.function}`);
    if (!topo.tables[c.table]?.stream)
      problems.push(`stream consumer ${c.function} reads table ${c.table}, which has no stream`);
    if (!topo.queues[c.onFailureQueue])
      problems.push(`stream consumer ${c.function}: unknown on-failure queue ${c.onFailureQueue}`);
  }
  const routeKeys = new Set<string>();
  for (const r of topo.routes) {
    if (!fnIds.has(r.function))
      problems.push(`route ${r.method} ${r.path} names unknown function ${r.function}`);
    const key = `${r.method} ${r.path}`;
    if (routeKeys.has(key)) problems.push(`route ${key} declared twice`);
    routeKeys.add(key);
  }
  if (topo.defaultRoute && !fnIds.has(topo.defaultRoute.function))
    problems.push(`the default route names unknown function ${topo.defaultRoute.function}`);
  for (const c of topo.consumers) {
    if (!fnIds.has(c.function)) problems.push(`consumer of ${c.queue} names unknown function ${c.function}`);
    if (!topo.queues[c.queue]) problems.push(`consumer ${c.function} reads unknown queue ${c.queue}`);
    if (c.batchSize > 10 && c.maxBatchingWindowSeconds < 1)
      problems.push(`consumer ${c.function}: batchSize > 10 needs a batching window >= 1 s`);
    if (c.maxConcurrency < 2 || c.maxConcurrency > 1000)
      problems.push(`consumer ${c.function}: maxConcurrency must be 2..1000`);
    const fn = topo.functions[c.function];
    const q = topo.queues[c.queue];
    if (fn && q && q.visibilityTimeoutSeconds < fn.timeoutSeconds)
      problems.push(`queue ${c.queue}: visibility timeout shorter than ${c.function}'s timeout`);
  }
  for (const s of topo.schedules)
    if (!fnIds.has(s.function)) problems.push(`schedule ${s.id} names unknown function ${s.function}`);
  for (const [id, group] of Object.entries(topo.scheduleGroups))
    if (!fnIds.has(group.target))
      problems.push(`schedule group ${id} targets unknown function ${group.target}`);
  for (const [id, fn] of Object.entries(topo.functions))
    for (const g of fn.uses.scheduleGroups ?? [])
      if (!topo.scheduleGroups[g]) problems.push(`${id} uses unknown schedule group ${g}`);
  for (const [id, fn] of Object.entries(topo.functions))
    for (const b of fn.uses.eventBuses ?? [])
      if (!topo.eventBuses?.[b]) problems.push(`${id} uses unknown event bus ${b}`);
  if (problems.length > 0) throw new Error(`Invalid topology:\n- ${problems.join('\n- ')}`);
}

function mustGet<T>(record: Readonly<Record<string, T>>, id: string, kind: string): T {
  const value = record[id];
  if (!value) throw new Error(`Unknown ${kind} '${id}' in topology`);
  return value;
}
