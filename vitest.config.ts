import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The local twin runs the real handlers in the test process: keep their INFO lines out of the
    // report, errors and warnings stay visible.
    env: { POWERTOOLS_LOG_LEVEL: 'WARN' },
  },
});
