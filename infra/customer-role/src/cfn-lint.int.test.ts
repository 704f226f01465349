import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ORG_MEMBER_TEMPLATE_PATH, ORG_STACKSET_TEMPLATE_PATH } from './org-stackset.ts';
import { TEMPLATE_PATH } from './template.ts';

describe('cfn-lint', () => {
  it.each([
    ['the customer-role template', TEMPLATE_PATH],
    ['the organisation member template', ORG_MEMBER_TEMPLATE_PATH],
    ['the organisation StackSet template', ORG_STACKSET_TEMPLATE_PATH],
  ])('finds no error, warning or informational issue in %s', (_name, path) => {
    const result = spawnSync('cfn-lint', [path], { encoding: 'utf8' });

    expect(result.error).toBeUndefined();
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({
      status: 0,
      output: '',
    });
  });
});
