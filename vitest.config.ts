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
 * The fault drills: deadlines (every broadcast final within 180 s), mostly waiting on recovery
 * timers (a failed batch's 60 s visibility timeout), about 0.45 of the two cores together. They run
 * last in the parallel group, side by side, so their waits are covered by the group's last files
 * (the smallest, unit tests on a clean clone) instead of leaving the cores half idle in a group of
 * their own (61-80 s there, 2026-12-01; README "Tests").
 */
const DRILLS = ['test/integration/chaos-aws.test.ts', 'test/integration/chaos-twilio.test.ts'];

/**
 * Files that spend most of their time idle on the real clock: restart.test.ts (150-200 s, waiting out a
 * queue's 60 s visibility timeout twice against a 120 s recovery bound) and campaigns-realtime
 * (~110 s, minute boundaries). They start first in the parallel group, so that their waits are
 * covered by the files running in the group's other two workers.
 */
const FIRST = ['test/restart.test.ts', 'test/integration/campaigns-realtime.test.ts'];

/**
 * Vitest's order (failed first, then longest first by the last run's durations, else largest file
 * first), with the known long, idle files moved to the front and the drills to the end: on a clean
 * clone there are no durations, and a long file started last would be the whole suite's tail.
 */
class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const is = (file: string) => spec.moduleId.endsWith(`/${file}`);
      const first = FIRST.findIndex(is);
      if (first >= 0) return first;
      return DRILLS.some(is) ? FIRST.length + 1 : FIRST.length;
    };
    // Array.prototype.sort is stable: the rest keep Vitest's order.
    return sorted.sort((a, b) => {
      const order = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder;
      return order !== 0 ? order : rank(a) - rank(b);
    });
  }
}

export default defineConfig({
  test: {
    // The local twin runs the real handlers in the test process: keep their INFO lines out of the
    // report, errors and warnings stay visible.
    // DynamoDB Local's JVM with the client compiler only (C1): the suite starts a short-lived JVM
    // for each integration file (several for some), and most of their CPU went to the server
    // compiler (C2) warming up: 4.9 CPU-s per start against 3.0, and 79 against 49 CPU-s for
    // pipeline + two-step. The twin and the bench keep the JVM's default, whose steady state serves
    // a long send faster (README, "Tests").
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', JAVA_TOOL_OPTIONS: '-XX:TieredStopAtLevel=1' },
    // A timeout catches a hang, it does not measure speed (that is npm run bench): Vitest's 5 s (10 s
    // for a hook) failed a cdk-nag synth, the stack's synth with its bundles, a 100,000-entry list and
    // API round trips on a 2-core box running three files.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Removes each file's temp directories after it (test/support/temp-dir.ts).
    setupFiles: ['test/support/after-each-file.ts'],
    sequence: { sequencer: LongFilesFirst },
    projects: [
      {
        extends: true,
        test: {
          // Four files at a time on two cores: the two idle ones above hold a worker each for
          // their first minutes (with three workers, one busy file was left for two cores: 25-35 %
          // idle then), and several others wait on real timers (retries, quiet hours). Each starts
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
