import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfig, lint, type NormalizedProblem } from '@redocly/openapi-core';
import { afterAll, describe, expect, it } from 'vitest';
import { openApiDocument } from './testing/operations.ts';

const folder = mkdtempSync(join(tmpdir(), 'vsh-openapi-lint-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function describeProblem(problem: NormalizedProblem): string {
  const where = problem.location.map((location) => location.pointer).join(', ');
  return `${problem.severity} ${problem.ruleId} at ${where}: ${problem.message}`;
}

describe('the OpenAPI document under Redocly lint', () => {
  it('has no error under the recommended rules, offline', async () => {
    const path = join(folder, 'openapi.json');
    writeFileSync(path, JSON.stringify(openApiDocument(), null, 2));
    // Built-in rules only (no redocly.yaml, no registry): linting never reaches the network.
    const config = await createConfig({
      extends: ['recommended'],
    });

    const problems = await lint({ ref: path, config });

    const warnings = problems.filter((problem) => problem.severity === 'warn');
    if (warnings.length > 0) console.warn(warnings.map(describeProblem).join('\n'));
    expect(problems.filter((problem) => problem.severity === 'error').map(describeProblem)).toEqual([]);
  });
});
