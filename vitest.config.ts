import { defineConfig } from 'vitest/config';

const ignored = ['**/node_modules/**', '**/dist/**', '**/cdk.out/**', '**/.data/**'];

// Two projects: fast, pure unit tests and integration tests that start real servers
// (PostgreSQL databases, moto_server, DynamoDB Local, the Vaikora simulator, Chromium).
export default defineConfig({
  test: {
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
