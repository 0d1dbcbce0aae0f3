/**
 * A warm-up broadcast before a throughput scenario measures. DynamoDB Local is a JVM: in its first
 * minute its JIT compiler competes with it for the machine's cores (on a cold send-rate run, its C2
 * compiler thread used 3.2 s of CPU in 10 s, and DynamoDB Local 0.95 of a core at 58–65 sends/s;
 * after a warm-up, 0.56 of a core at a higher rate). DynamoDB on AWS has no such first minute, so
 * the rate and speed figures are taken on a warm twin, as any benchmark of a JIT-compiled server is.
 * The warm-up goes through the same paths as the measured broadcast (the API, fan-out, send,
 * signed callbacks, the counts), to numbers the measurement never uses, and is not counted.
 */
import type { BenchTwin } from './bench-twin.ts';
import type { AwsRequestCounter } from './counting.ts';
import { ordinaryPhones } from './phones.ts';

/** Recipients of the warm-up broadcast by default: about 7,500 DynamoDB calls, enough for the JIT's hot paths at 80/s. */
export const WARM_UP_RECIPIENTS = 1500;
/**
 * For a scenario that then sends as fast as the twin can (the naive comparison, SENDER_MPS 1,000):
 * after 1,500, DynamoDB Local's C2 compiler thread still used 3.0–4.8 s of CPU in the 10–13 s
 * measured (a third of a core, on a machine both processes saturate); after 4,000, 1.5 s. DynamoDB
 * Local's own CPU per call levels off after about 20,000 calls (0.56 ms with C2, from 2.1 ms in the
 * first 8,000; measured on its own with UpdateItem and GetItem).
 */
export const WARM_UP_RECIPIENTS_AT_FULL_SPEED = 4000;
/** Its numbers start here, past any scenario's own (ordinaryPhones from 0). */
const WARM_UP_PHONES_FROM = 500_000;

/**
 * Sends a broadcast of `recipients` (default WARM_UP_RECIPIENTS) and waits until every one is `read` (so no callback of
 * it lands in the measurement), then forgets what `counter` counted. Throws when it is not done
 * within `timeoutMs` (the scenario then fails, as it would on a twin that cannot send).
 */
export async function warmUp(
  bench: BenchTwin,
  options: {
    counter?: AwsRequestCounter;
    timeoutMs: number;
    say: (text: string) => void;
    recipients?: number;
  },
): Promise<void> {
  const phones = ordinaryPhones(options.recipients ?? WARM_UP_RECIPIENTS, WARM_UP_PHONES_FROM);
  options.say(`warm-up: a broadcast of ${phones.length} recipients, not measured`);
  const { broadcastId } = await bench.createBroadcast(phones, 'bench warm-up');
  await bench.untilProgress(broadcastId, (progress) => progress.counts?.read >= phones.length, {
    timeoutMs: options.timeoutMs,
    intervalMs: 500,
    message: `the warm-up broadcast was not read by all ${phones.length} recipients`,
  });
  options.counter?.reset();
}
