/**
 * `npm run bench`: throughput, cost and capacity figures measured on the local twin (README,
 * "Benchmark"). `--json` prints only the JSON line; `--only=sendRate,cost` runs some scenarios
 * (and saves nothing); `--send-rate-mps=20` sets the send-rate scenario's limit (default 80).
 */
import { SEND_RATE_MPS_VARIABLE } from '../bench/options.ts';
import { PLAN, runBench } from '../bench/run.ts';
import type { ScenarioName } from '../bench/scenarios.ts';

const args = process.argv.slice(2);
const known = new Set(PLAN.map((p) => p.name as string));
const onlyArg = args.find((a) => a.startsWith('--only='));
// The send-rate scenario's limit (default 80, the product's default sender limit). Passed to the
// scenario's process through its environment.
const mpsArg = args.find((a) => a.startsWith('--send-rate-mps='));
if (mpsArg) process.env[SEND_RATE_MPS_VARIABLE] = mpsArg.slice('--send-rate-mps='.length);
const only = onlyArg
  ? (onlyArg.slice('--only='.length).split(',').filter(Boolean) as ScenarioName[])
  : undefined;
const unknown = [
  ...args.filter((a) => a !== '--json' && !a.startsWith('--only=') && !a.startsWith('--send-rate-mps=')),
  ...(mpsArg && !/^[1-9]\d{0,3}$/.test(mpsArg.slice('--send-rate-mps='.length)) ? [mpsArg] : []),
  ...(only ?? []).filter((name) => !known.has(name)),
];
if (unknown.length > 0) {
  process.stderr.write(
    `Unknown argument(s): ${unknown.join(' ')}\nUsage: npm run bench -- [--json] [--only=${[...known].join(',')}] [--send-rate-mps=1..1000]\n`,
  );
  process.exit(2);
}

runBench({ json: args.includes('--json'), ...(only ? { only } : {}) })
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
