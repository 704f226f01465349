import { defineConfig } from 'vitest/config';

const ignored = ['**/node_modules/**', '**/dist/**', '**/cdk.out/**', '**/.data/**'];

// Two projects: fast, pure unit tests and integration tests that start real servers
// (PostgreSQL databases, moto_server, DynamoDB Local, the Vaikora simulator, Chromium).
export default defineConfig({
  test: {
    // Two test files at a time. Vitest's default is one less than the cores: one file at a time on
    // this 2-core machine, while most integration files spend their time waiting on the servers they
    // start (moto, DynamoDB Local, PostgreSQL, Chromium). Two halve the suite's wall time (15 to 6.5
    // minutes for the integration project, the same tests green).
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{apps,packages,infra}/*/src/**/*.test.ts', '{apps,packages,infra}/*/test/**/*.test.ts'],
          exclude: [...ignored, '**/*.int.test.ts'],
          // A random order on every run (vitest prints the seed of a failing run): unit tests must not
          // lean on each other's state. Reproduce an order with --sequence.seed=<n>.
          sequence: { shuffle: true },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{apps,packages,infra}/*/{src,test}/**/*.int.test.ts'],
          exclude: ignored,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
