import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIEWER_PACKAGE_FILES, viewerAssetCopyCommands, viewerPackageFolder } from './viewer-assets.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
// Outside the repository, like /var/task: no node_modules to fall back on.
const folder = mkdtempSync(join(tmpdir(), 'vsh-docs-bundle-'));
const deployed = join(folder, 'deployed');
const uncopied = join(folder, 'uncopied');

// Each bundle runs in its own plain Node process, as in Lambda: vitest's module runner resolves
// packages from the repository even for a file outside it, which would hide a missing copy.
const PROBE = `
const { docsApp } = await import(process.argv[1]);
const app = docsApp(() => ({ info: { title: 'Bundled' }, paths: {} }));
const page = await app.request('/docs');
const html = await page.text();
const urls = [...html.matchAll(/(?:src|href)="(\\/docs\\/assets\\/[^"]+)"/g)].map((match) => match[1]);
const assets = {};
for (const url of urls) {
  const response = await app.request(url);
  const bytes = Buffer.from(await response.arrayBuffer());
  assets[url.split('/').pop()] = {
    status: response.status,
    contentType: response.headers.get('content-type'),
    sha256: (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex'),
  };
}
console.log(JSON.stringify({ status: page.status, assets }));
`;

interface Served {
  status: number;
  assets: Record<string, { status: number; contentType: string; sha256: string }>;
}

function serveFromBundle(dir: string): Served {
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', PROBE, pathToFileURL(join(dir, 'index.mjs')).href],
    // Without pnpm's NODE_PATH, which points at the store's hoisted packages: Lambda has no such thing.
    { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } },
  );
  if (run.status !== 0) throw new Error(`the bundle probe failed: ${run.stderr.slice(0, 2000)}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as Served;
}

beforeAll(async () => {
  // The central stack's esbuild settings for the API Lambda (infra/central/src/central-stack.ts).
  await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: ['apps/api/src/routes/system/docs.ts'],
    outfile: join(deployed, 'index.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: true,
    banner: {
      js: "import { createRequire as __vshCreateRequire } from 'node:module'; const require = __vshCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  mkdirSync(uncopied);
  copyFileSync(join(deployed, 'index.mjs'), join(uncopied, 'index.mjs'));
  const copy = spawnSync('bash', ['-c', viewerAssetCopyCommands(deployed).join(' && ')], {
    encoding: 'utf8',
  });
  if (copy.status !== 0) throw new Error(`the copy step failed: ${copy.stderr}`);
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('the API reference viewer in the Lambda bundle', () => {
  it('serves the page and every asset, byte for byte, from the files the stack copies beside the bundle', () => {
    const served = serveFromBundle(deployed);

    expect(served.status).toBe(200);
    for (const [name, contentType] of Object.entries(VIEWER_PACKAGE_FILES)) {
      const expected = createHash('sha256')
        .update(readFileSync(join(viewerPackageFolder(), name)))
        .digest('hex');
      expect(served.assets[name]).toEqual({ status: 200, contentType, sha256: expected });
    }
  });

  it('cannot serve the viewer when the copy step is left out (the files are not in the code bundle)', () => {
    const served = serveFromBundle(uncopied);

    expect(served.status).toBe(500);
  });
});
