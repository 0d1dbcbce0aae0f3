/**
 * `npm run build`: the admin console's static files into console/dist (Vite). With `--if-needed`
 * (what `npm start` runs first) it builds only when a console source is newer than the build;
 * `--out <dir>` builds elsewhere (the CDK asset bundling of lib/console-site.ts).
 */
import { buildConsole, consoleBuildNeeded } from '../lib/console-build.ts';

const ifNeeded = process.argv.includes('--if-needed');
const outAt = process.argv.indexOf('--out');
const outDir = outAt >= 0 ? process.argv[outAt + 1] : undefined;
if (ifNeeded && !outDir && !consoleBuildNeeded()) process.exit(0);
const started = Date.now();
const out = await buildConsole(outDir);
process.stdout.write(`Console built into ${out} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
