import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLED_MIGRATIONS_FOLDER, migrationsFolder } from './migrate.ts';

const temp: string[] = [];
afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

// The API Lambda is one esbuild bundle (index.mjs) with the migrations copied beside it: there,
// `import.meta.url` is the bundle's, and the folder must still be found.
describe('the migrations folder in a bundle', () => {
  it('is the copy beside the bundle, and the bundle migrates a database with it', async () => {
    // Inside the package, so the bundle's one external (PGlite, which loads its wasm beside itself)
    // resolves from packages/db/node_modules as it does from the Lambda's.
    const dir = mkdtempSync(join(import.meta.dirname, '..', '.bundle-test-'));
    temp.push(dir);
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      `import { createDb, migrate, migrationsFolder, appliedMigrationCount } from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))};
const handle = await createDb({ kind: 'pglite', dataDir: 'memory' });
await migrate(handle.db);
console.log(JSON.stringify({ folder: migrationsFolder, applied: await appliedMigrationCount(handle.db) }));
await handle.close();`,
    );
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      outfile: join(dir, 'out', 'index.mjs'),
      banner: {
        js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'silent',
      external: ['@electric-sql/pglite'],
    });
    cpSync(migrationsFolder, join(dir, 'out', BUNDLED_MIGRATIONS_FOLDER), { recursive: true });

    const out = execFileSync(process.execPath, [join(dir, 'out', 'index.mjs')], { encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { folder: string; applied: number };

    expect(result.folder).toBe(join(dir, 'out', BUNDLED_MIGRATIONS_FOLDER));
    expect(result.applied).toBeGreaterThanOrEqual(7);
  });
});
