import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  BUNDLED_ASSETS_FOLDER,
  BUNDLED_MIGRATIONS_FOLDER,
  migrationsFolder,
  VIEWER_PACKAGE_FILES,
  viewerPackageFolder,
} from '@vsh/api/viewer-assets';
import { afterAll, describe, expect, it } from 'vitest';
import { logicalId, property, synthesize } from '../test/synth.ts';

// Bundles for real, as `cdk deploy` does, to see what lands in each function's asset folder.
const synth = synthesize({ bundle: true });
afterAll(() => synth.cleanup());

function assetFolderOf(functionLogicalId: string): string {
  const code = property<{ S3Key: string }>(synth.json.Resources[functionLogicalId], 'Code');
  return join(synth.outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
}

describe('the API function asset', () => {
  it("carries the API reference viewer's files beside index.mjs, byte for byte", () => {
    const folder = assetFolderOf(logicalId(synth.stack, synth.stack.api));

    expect(existsSync(join(folder, 'index.mjs'))).toBe(true);
    for (const name of Object.keys(VIEWER_PACKAGE_FILES)) {
      const copied = readFileSync(join(folder, BUNDLED_ASSETS_FOLDER, name));
      expect(copied.equals(readFileSync(join(viewerPackageFolder(), name))), name).toBe(true);
    }
  });

  it('carries the committed migrations beside index.mjs, byte for byte (the API applies them at start)', () => {
    const folder = join(assetFolderOf(logicalId(synth.stack, synth.stack.api)), BUNDLED_MIGRATIONS_FOLDER);
    const files = readdirSync(migrationsFolder, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(migrationsFolder, join(entry.parentPath, entry.name)));

    expect(files).toContain(join('meta', '_journal.json'));
    for (const file of files) {
      expect(readFileSync(join(folder, file)).equals(readFileSync(join(migrationsFolder, file))), file).toBe(
        true,
      );
    }
  });

  it('is the only function that carries them', () => {
    for (const fn of [synth.stack.worker, synth.stack.dispatcher]) {
      expect(existsSync(join(assetFolderOf(logicalId(synth.stack, fn)), BUNDLED_ASSETS_FOLDER))).toBe(false);
    }
  });
});
