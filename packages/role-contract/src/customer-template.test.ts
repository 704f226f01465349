import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TEMPLATE_SOURCE_PATH } from '../scripts/generate.ts';
import { CUSTOMER_TEMPLATE_YAML } from './customer-template.generated.ts';

describe('the embedded customer-role template', () => {
  it('equals infra/customer-role/template.yaml byte for byte (regenerate: pnpm -F @vsh/role-contract generate)', () => {
    expect(CUSTOMER_TEMPLATE_YAML).toBe(readFileSync(TEMPLATE_SOURCE_PATH, 'utf8'));
  });
});
