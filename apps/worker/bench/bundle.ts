import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
// Next to packages/db/src, so that the bundle's `new URL('../drizzle', import.meta.url)` (the
// migrations folder) resolves as it does from the sources.
const OUT_DIR = fileURLToPath(new URL('../../../packages/db/.bundle/', import.meta.url));

/**
 * Bundles the worker's and the API's process entries the way the central stack bundles its Lambdas
 * (esbuild, ESM, node platform, a `require` banner; infra/central/src/functions.ts, ESM_REQUIRE_BANNER), so a
 * benchmark measures the memory of what is deployed, not of tsx compiling every source file on load
 * (under Node 24 that alone holds 300+ MB of RSS).
 */
export async function bundleEntries(outDir: string = OUT_DIR): Promise<{ worker: string; api: string }> {
  // `outDir` must sit in packages/db as OUT_DIR does (the migrations folder resolves from it).
  const dir = outDir.endsWith('/') ? outDir : `${outDir}/`;
  mkdirSync(dir, { recursive: true });
  const worker = `${dir}worker.mjs`;
  const api = `${dir}api.mjs`;
  await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: { worker: 'apps/worker/src/main.ts', api: 'apps/api/src/main.ts' },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    banner: {
      js: "import { createRequire as __vshCreateRequire } from 'node:module'; const require = __vshCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return { worker, api };
}
