import { templateBody } from '@vsh/customer-role';
import { describe, expect, it } from 'vitest';
import { CUSTOMER_TEMPLATE_YAML } from './customer-template.generated.ts';

describe('the embedded customer-role template', () => {
  it('equals infra/customer-role/template.yaml byte for byte (regenerate: pnpm -F @vsh/api exec tsx src/routes/templates/generate.ts)', () => {
    expect(CUSTOMER_TEMPLATE_YAML).toBe(templateBody());
  });
});
