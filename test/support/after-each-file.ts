import { afterAll } from 'vitest';
import { removeFileTempDirs } from './temp-dir.ts';

// Vitest setup file (vitest.config.ts), run in every test file: what fileTempDir made is removed
// after the file, so the file itself need not (and cannot forget to).
afterAll(removeFileTempDirs);
