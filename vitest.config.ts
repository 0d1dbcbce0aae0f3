import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files whose assertions measure rates (sends against a sender's limit): they never run next to
 * another file. They run one at a time, last, in their own group.
 */
const TIMED = [
  'test/integration/pacing.test.ts',
  // Two senders at 20/s against a simulator refusing the 21st message in any second: a stall of
  // the shared CPU bunches late sends into one second (CI: 7 refused in 80 next to two other files).
  'test/integration/tenant-senders.test.ts',
];

/**
 * Files that start first in the parallel group: restart.test.ts (150-200 s, waiting out a queue's
 * 60 s visibility timeout twice against a 120 s recovery bound) and campaigns-realtime (~80-110 s,
 * minute boundaries) spend most of their time idle on the real clock, so their waits are covered by
 * the files running in the group's other two workers.
 */
const FIRST = ['test/restart.test.ts', 'test/integration/campaigns-realtime.test.ts'];

/**
 * Other files that mostly wait on real timers, longest first: the retry job's windows, quiet hours
 * and messaging limits ending at a minute boundary, a pause's resume, and the fault drills (every
 * broadcast final within 180 s; mostly a failed batch's 60 s visibility timeout; together about 0.45
 * of the two cores). They start spread among the busy files, one after every `WAITING_EVERY`, so
 * that files working beside them cover their waits. Started last (the drills, until 2026-12-02) or
 * wherever their size put them (timing-api), they ran 40-60 s past the rest of the group with the
 * cores half idle; in a group of their own (the drills, until 2026-12-02), the same.
 */
const WAITING = [
  'test/integration/retries.test.ts',
  'test/integration/timing-api.test.ts',
  'test/integration/chaos-twilio.test.ts',
  'test/integration/pause-resume.test.ts',
  'test/integration/chaos-aws.test.ts',
];
/** Busy files started before the first waiting one (beside the two FIRST ones), and between the next. */
const WAITING_EVERY = 4;

/**
 * Vitest's order (failed first, then longest first by the last run's durations, else largest file
 * first), with the known waiting files placed by hand: on a clean clone there are no durations, and
 * a long, idle file started last would be the whole suite's tail.
 */
class WaitingFilesSpread extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const groups = new Map<number, TestSpecification[]>();
    for (const spec of sorted) {
      const order = spec.project.config.sequence.groupOrder;
      groups.set(order, [...(groups.get(order) ?? []), spec]);
    }
    return [...groups.keys()].sort((a, b) => a - b).flatMap((order) => spread(groups.get(order) ?? []));
  }
}

/** FIRST, then the rest with WAITING's files inserted one after every WAITING_EVERY of the others. */
function spread(specs: TestSpecification[]): TestSpecification[] {
  const indexIn = (list: readonly string[], spec: TestSpecification) =>
    list.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
  const byList = (list: readonly string[]) =>
    specs.filter((s) => indexIn(list, s) >= 0).sort((a, b) => indexIn(list, a) - indexIn(list, b));
  const first = byList(FIRST);
  const waiting = byList(WAITING);
  const busy = specs.filter((s) => indexIn(FIRST, s) < 0 && indexIn(WAITING, s) < 0);
  const result = [...first];
  busy.forEach((spec, i) => {
    result.push(spec);
    if ((i + 1) % WAITING_EVERY === 0 && waiting.length > 0)
      result.push(waiting.shift() as TestSpecification);
  });
  return [...result, ...waiting];
}

export default defineConfig({
  test: {
    // The local twin runs the real handlers in the test process: keep their INFO lines out of the
    // report, errors and warnings stay visible.
    // DynamoDB Local's JVMs with the client compiler only (C1): the run's shared one
    // (test/support/shared-dynamodb.ts: 49 against 66 CPU-s for three files with the default) and
    // those a few files still start; when each file had its own, most of their CPU went to the
    // server compiler (C2) warming up (4.9 CPU-s per start against 3.0). The twin and the bench keep
    // the JVM's default, whose steady state serves a long send faster (README, "Tests").
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', JAVA_TOOL_OPTIONS: '-XX:TieredStopAtLevel=1' },
    // A timeout catches a hang, it does not measure speed (that is npm run bench): Vitest's 5 s (10 s
    // for a hook) failed a cdk-nag synth, the stack's synth with its bundles, a 100,000-entry list and
    // API round trips on a 2-core box running three files.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The process's DynamoDB Local access key first, before any module reads it; then the removal of
    // each file's temp directories after it (test/support/temp-dir.ts).
    setupFiles: ['test/support/dynamodb-namespace.ts', 'test/support/after-each-file.ts'],
    // One DynamoDB Local for the run, which every file's twin shares under its own access key.
    globalSetup: ['test/support/shared-dynamodb.ts'],
    sequence: { sequencer: WaitingFilesSpread },
    projects: [
      {
        extends: true,
        test: {
          // Four files at a time on two cores: the two FIRST ones hold a worker each for their
          // first minutes (with three workers, one busy file was left for two cores: 25-35 % idle
          // then), and the WAITING ones come one at a time among the busy files. Each starts
          // its own twin on free ports in its own DATA_DIR, so files do not share state.
          name: 'parallel',
          exclude: [...configDefaults.exclude, ...TIMED],
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'timed', include: TIMED, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
