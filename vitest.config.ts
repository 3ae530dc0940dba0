import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file starts real worker threads and sometimes a server process; two cores here.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
