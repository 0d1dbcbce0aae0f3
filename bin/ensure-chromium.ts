/**
 * Makes sure Debian's Chromium is at /usr/bin/chromium for the console's browser tests
 * (test/console/): `npm test` runs this before vitest. Playwright's own browser download does not
 * work here, so the project installs the distribution's package instead. Nothing happens when the
 * browser is there; otherwise, as root, `apt-get update && apt-get install -y chromium` (a clean
 * Debian CI machine); not root, or no apt-get: it says what to run and exits non-zero.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

if (existsSync(CHROMIUM)) process.exit(0);
const fail = (why: string): never => {
  process.stderr.write(
    `The console's browser tests need Chromium at ${CHROMIUM}, and ${why}.\n` +
      'Install it with: sudo apt-get update && sudo apt-get install -y chromium (Debian), or set CHROMIUM_PATH.\n',
  );
  process.exit(1);
};
if (process.platform !== 'linux') fail(`this is ${process.platform}, not Debian`);
if (process.getuid?.() !== 0) fail('installing it needs root');
if (spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0)
  fail('apt-get is not here');
process.stdout.write(`Chromium is not at ${CHROMIUM}: installing Debian's package (apt-get)…\n`);
for (const args of [['update'], ['install', '-y', 'chromium']]) {
  const run = spawnSync('apt-get', args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (run.status !== 0) fail(`apt-get ${args.join(' ')} failed (exit ${run.status})`);
}
if (!existsSync(CHROMIUM)) fail('the package did not put it there');
process.stdout.write(`Chromium installed at ${CHROMIUM}.\n`);
