import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];

/**
 * A new directory under the OS temp directory (`<tmpdir>/<prefix>XXXXXX`), removed with everything
 * in it after the current test file: test/support/after-each-file.ts, a Vitest setup file, calls
 * removeFileTempDirs. An exit handler would not do: Vitest ends its worker processes with SIGTERM.
 */
export function fileTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every directory fileTempDir made in this process so far. */
export function removeFileTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
