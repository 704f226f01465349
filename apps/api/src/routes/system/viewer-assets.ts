import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED_MIGRATIONS_FOLDER, migrationsFolder } from '@vsh/db';

/** The files of `swagger-ui-dist` the /docs viewer serves, and their content types. */
export const VIEWER_PACKAGE_FILES = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
} as const;

export type ViewerPackageFile = keyof typeof VIEWER_PACKAGE_FILES;

/**
 * The folder, next to a bundled entry, where the central stack copies the viewer's files: esbuild
 * bundles code, not these files, and the Lambda has no node_modules to read them from.
 */
export const BUNDLED_ASSETS_FOLDER = 'docs-assets';

/** Where `swagger-ui-dist` is installed for this package, for the bundler's copy step and for tests. */
export function viewerPackageFolder(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}

/** The folder to read the viewer's files from: beside the bundle when deployed, else the package. */
export function viewerAssetsFolder(moduleUrl: string = import.meta.url): string {
  const bundled = join(dirname(fileURLToPath(moduleUrl)), BUNDLED_ASSETS_FOLDER);
  return existsSync(join(bundled, 'swagger-ui-bundle.js')) ? bundled : viewerPackageFolder();
}

/** One static file of the viewer: its bytes, content type and a content hash for its URL. */
export interface StaticAsset {
  name: string;
  contentType: string;
  body: Uint8Array<ArrayBuffer>;
  hash: string;
}

/** A static asset from its bytes; the hash makes its URL change whenever the content does. */
export function staticAsset(name: string, contentType: string, body: Uint8Array | string): StaticAsset {
  // A copy in its own ArrayBuffer: what a response body takes, without copying per request.
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body);
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  return { name, contentType, body: bytes, hash };
}

/** The viewer's package files, read once from `folder`. */
export function loadViewerPackageFiles(folder: string = viewerAssetsFolder()): StaticAsset[] {
  return Object.entries(VIEWER_PACKAGE_FILES).map(([name, contentType]) =>
    staticAsset(name, contentType, readFileSync(join(folder, name))),
  );
}

const shellQuote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;

/**
 * Shell commands that copy the viewer's files beside a bundle in `outputDir` (the central stack's
 * after-bundling hook for the API Lambda, and the bundle test, run exactly these).
 */
export function viewerAssetCopyCommands(outputDir: string, from: string = viewerPackageFolder()): string[] {
  const target = join(outputDir, BUNDLED_ASSETS_FOLDER);
  return [
    `mkdir -p ${shellQuote(target)}`,
    ...Object.keys(VIEWER_PACKAGE_FILES).map(
      (name) => `cp ${shellQuote(join(from, name))} ${shellQuote(join(target, name))}`,
    ),
  ];
}

export { BUNDLED_MIGRATIONS_FOLDER, migrationsFolder };

/**
 * Shell commands that copy the committed migrations beside a bundle of the API, which applies them at
 * start and counts them for /ready: a bundle cannot import a folder, and drizzle's migrator reads files.
 */
export function migrationCopyCommands(outputDir: string, from: string = migrationsFolder): string[] {
  return [`cp -R ${shellQuote(from)} ${shellQuote(join(outputDir, BUNDLED_MIGRATIONS_FOLDER))}`];
}
