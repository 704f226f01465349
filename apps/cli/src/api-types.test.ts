import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, renderApiTypes } from '../scripts/generate-api-types.ts';

describe('api-types.generated.ts', () => {
  it('matches the API’s current OpenAPI document (else run pnpm -F @vsh/cli generate:api-types)', async () => {
    const committed = readFileSync(API_TYPES_FILE, 'utf8');

    const current = await renderApiTypes();

    expect(committed === current, 'stale: run `pnpm -F @vsh/cli generate:api-types`').toBe(true);
  }, 60_000);
});
