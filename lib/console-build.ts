import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const CONSOLE_DIR = path.resolve(import.meta.dirname, '../console');

/** The newest modification time (ms) among the console's sources: src/, index.html, its configs. */
function newestSource(dir: string = CONSOLE_DIR): number {
  let newest = 0;
  const visit = (p: string) => {
    const s = statSync(p);
    if (s.isDirectory()) for (const name of readdirSync(p)) visit(path.join(p, name));
    else newest = Math.max(newest, s.mtimeMs);
  };
  for (const name of ['src', 'public', 'index.html', 'vite.config.ts', 'tsconfig.json']) {
    const p = path.join(dir, name);
    if (existsSync(p)) visit(p);
  }
  return newest;
}

/** True when console/dist is missing or older than a source file. */
export function consoleBuildNeeded(dir: string = CONSOLE_DIR): boolean {
  const index = path.join(dir, 'dist', 'index.html');
  return !existsSync(index) || statSync(index).mtimeMs < newestSource(dir);
}

/**
 * Builds the console into `outDir` (default console/dist) with Vite (console/vite.config.ts).
 * About 2–3 s on this project's machine. Returns the output directory.
 */
export async function buildConsole(outDir?: string): Promise<string> {
  const { build } = await import('vite');
  const out = outDir ?? path.join(CONSOLE_DIR, 'dist');
  // React's JSX transform follows NODE_ENV, which test runners set to 'test': that would ship the
  // development build (slower, and with this machine's file paths in it). Production, always.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: path.join(CONSOLE_DIR, 'vite.config.ts'),
      mode: 'production',
      build: { outDir: out, emptyOutDir: true },
      logLevel: 'warn',
    });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  return out;
}
