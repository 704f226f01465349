import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationsFolder } from './migrate.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const drizzleKit = join(packageDir, 'node_modules', '.bin', 'drizzle-kit');

describe('committed migrations', () => {
  const scratch = mkdtemp(join(tmpdir(), 'vsh-drift-'));
  afterAll(async () => rm(await scratch, { recursive: true, force: true }));

  it('match the schema: drizzle-kit generate on a copy finds nothing to add', async () => {
    const out = join(await scratch, 'drizzle');
    await cp(migrationsFolder, out, { recursive: true });
    const before = await readdir(out, { recursive: true });

    // drizzle-kit prefixes `--out` with "./", so it must be given relative to the working directory.
    const { stdout } = await promisify(execFile)(
      drizzleKit,
      [
        'generate',
        '--dialect',
        'postgresql',
        '--schema',
        './src/schema/index.ts',
        '--out',
        relative(packageDir, out),
      ],
      { cwd: packageDir },
    );

    expect(stdout).toContain('No schema changes');
    expect(await readdir(out, { recursive: true })).toEqual(before);
  });
});
