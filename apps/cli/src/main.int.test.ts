import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

describe('pnpm -s connector map (as documented in the README)', () => {
  it('runs from the repository root with stdin and exit codes', () => {
    const input = JSON.stringify({
      actions: [{ id: 'x1', timestamp: '2026-11-01T00:00:00Z', threat_detected: true }],
    });

    const ok = spawnSync(
      'pnpm',
      ['-s', 'connector', 'map', '--account-id', '123456789012', '--region', 'us-west-2'],
      {
        cwd: root,
        input,
        encoding: 'utf8',
      },
    );
    const bad = spawnSync('pnpm', ['-s', 'connector', 'map', '--region', 'us-west-2'], {
      cwd: root,
      input: '',
      encoding: 'utf8',
    });

    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout.trim()).Id).toBe('vaikora-x1');
    expect(
      ok.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).kind),
    ).toEqual(['summary']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--account-id is required');
  });
});
