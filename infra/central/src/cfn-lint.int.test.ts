import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { synthesize } from '../test/synth.ts';

// W3005 (DependsOn already implied by a GetAtt): CDK makes every function depend on its role and
// the role's default policy, and the role is also referenced by GetAtt. The redundant DependsOn is
// how CDK orders the policy before the function; it is harmless and not ours to remove.
const IGNORED_CHECKS = ['W3005'];

// Bundles for real: this is the synth `cdk deploy` runs, with esbuild on the fixture entries.
const synth = synthesize({ bundle: true });
afterAll(() => synth.cleanup());

describe('the synthesized central template', () => {
  it('bundles each function into its own asset', () => {
    const assets = readdirSync(synth.outdir).filter((name) => name.startsWith('asset.'));

    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) expect(existsSync(join(synth.outdir, asset, 'index.mjs'))).toBe(true);
  });

  it('passes cfn-lint with no error, warning or informational issue', () => {
    const path = join(synth.outdir, 'central.lint.template.json');
    writeFileSync(path, JSON.stringify(synth.json, null, 2));

    const result = spawnSync('cfn-lint', ['--ignore-checks', ...IGNORED_CHECKS, '--', path], {
      encoding: 'utf8',
    });

    expect(result.error).toBeUndefined();
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({
      status: 0,
      output: '',
    });
  });
});
