import { afterAll } from 'vitest';
import { removeFileTempDirs } from './temp-dir.ts';

// Vitest setup file (vitest.config.ts): runs in every test file, so no file can leave its temp
// directories behind by forgetting to remove them.
afterAll(removeFileTempDirs);
