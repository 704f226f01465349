import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createApp, OPENAPI_INFO } from '@vsh/api';
import { testApiDeps } from '@vsh/api/testing';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';

/** Where the generated types live; the operator CLI's client is typed by them. */
export const API_TYPES_FILE = resolve(import.meta.dirname, '../src/api-types.generated.ts');

/**
 * The API's OpenAPI document, as `/openapi.json` serves it. The app is built with test dependencies and
 * no database: writing the document never queries one.
 */
export function apiDocument(): OpenAPI3 {
  const app = createApp(testApiDeps());
  // Both sides describe the same JSON document; their TypeScript models of it differ in detail.
  return app.getOpenAPI31Document(OPENAPI_INFO) as unknown as OpenAPI3;
}

/** Formats TypeScript with the repository's formatter, so the generated file passes `biome check`. */
function biomeFormat(source: string, file: string): string {
  const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
  const out = spawnSync(process.execPath, [biome, 'format', `--stdin-file-path=${file}`], {
    input: source,
    encoding: 'utf8',
    cwd: resolve(import.meta.dirname, '../../..'),
  });
  if (out.status !== 0) throw new Error(`biome format failed: ${out.stderr}`);
  return out.stdout;
}

/** The text of `src/api-types.generated.ts` for the API's current document. */
export async function renderApiTypes(): Promise<string> {
  const ast = await openapiTS(apiDocument(), { silent: true });
  const header = `${COMMENT_HEADER.trimEnd()}\n// Regenerate with \`pnpm -F @vsh/cli generate:api-types\`; api-types.test.ts fails when it is stale.\n// biome-ignore-all lint: generated code\n\n`;
  return biomeFormat(`${header}${astToString(ast)}`, API_TYPES_FILE);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  writeFileSync(API_TYPES_FILE, await renderApiTypes());
  process.stdout.write(`wrote ${API_TYPES_FILE}\n`);
}
