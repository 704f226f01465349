import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TEMPLATE_PATH } from './template.ts';

describe('cfn-lint', () => {
  it('finds no error, warning or informational issue in the template', () => {
    const result = spawnSync('cfn-lint', [TEMPLATE_PATH], { encoding: 'utf8' });

    expect(result.error).toBeUndefined();
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({
      status: 0,
      output: '',
    });
  });
});
