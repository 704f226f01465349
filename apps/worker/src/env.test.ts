import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { claimHoldMs, masterKeyOf, parseWorkerEnv, runtimeTuningOf, workerEnvSchema } from './env.ts';

const base = { MASTER_KEY: Buffer.alloc(32, 1).toString('base64') };

describe('worker environment', () => {
  it('frees a dead worker’s tenants within a minute with the defaults (lease, then the claim hold, then a tick)', () => {
    const parsed = parseWorkerEnv(base);
    if (!parsed.ok) throw new Error(parsed.message);
    const { env } = parsed;

    // Worst case: the worker dies just after a renewal, with its claim just taken.
    const worstMs = Math.max(env.LEASE_TTL_MS, claimHoldMs(env)) + env.SCHEDULER_TICK_MS;

    expect(worstMs).toBeLessThan(60_000);
    // The claim outlives the lease, so a live run (which renews) is not handed out again meanwhile.
    expect(claimHoldMs(env)).toBeGreaterThan(env.LEASE_TTL_MS);
  });

  it('hands every tuning variable to the runtime', () => {
    const parsed = parseWorkerEnv({
      ...base,
      LEASE_TTL_MS: '11000',
      OVERLAP_MS: '12000',
      INITIAL_LOOKBACK_MS: '13000',
      RETENTION_MS: '14000',
      RUN_BUDGET_MS: '15000',
      IMPORT_RATE_PER_SECOND: '7',
      IMPORT_BURST: '9',
      FINDINGS_V2_PREVIEW: 'true',
      STATE_INLINE_CURSORS: 'false',
    });
    if (!parsed.ok) throw new Error(parsed.message);

    expect(runtimeTuningOf(parsed.env)).toEqual({
      baseUrlPolicy: { mode: 'production', allowedHosts: ['api.vaikora.com'] },
      inlineCursors: false,
      importRatePerSecond: 7,
      importBurst: 9,
      findingsV2Preview: true,
      run: {
        leaseTtlMs: 11_000,
        overlapMs: 12_000,
        initialLookbackMs: 13_000,
        retentionMs: 14_000,
        runBudgetMs: 15_000,
      },
    });
  });

  it('writes cursors to the lease item unless STATE_INLINE_CURSORS is false, and takes a worker id of 80 bytes at most', () => {
    const unset = parseWorkerEnv(base);
    const long = parseWorkerEnv({ ...base, WORKER_ID: 'w'.repeat(81) });
    const most = parseWorkerEnv({ ...base, WORKER_ID: 'w'.repeat(80) });
    // 80 characters, 160 bytes: the lease item's bound counts bytes.
    const wide = parseWorkerEnv({ ...base, WORKER_ID: 'é'.repeat(80) });

    expect(unset.ok && runtimeTuningOf(unset.env).inlineCursors).toBe(true);
    expect(long.ok).toBe(false);
    expect(most.ok).toBe(true);
    expect(wide.ok).toBe(false);
  });

  it('keeps BatchImportFindingsV2 off unless FINDINGS_V2_PREVIEW says so, and refuses a value that is no boolean', () => {
    const unset = parseWorkerEnv(base);
    const off = parseWorkerEnv({ ...base, FINDINGS_V2_PREVIEW: 'false' });
    const junk = parseWorkerEnv({ ...base, FINDINGS_V2_PREVIEW: 'sometimes' });
    if (!unset.ok || !off.ok) throw new Error('unexpected');

    expect(runtimeTuningOf(unset.env).findingsV2Preview).toBe(false);
    expect(runtimeTuningOf(off.env).findingsV2Preview).toBe(false);
    expect(junk.ok).toBe(false);
    expect(junk.ok ? '' : junk.message).toMatch(/^FINDINGS_V2_PREVIEW: /);
  });

  it('runs under production rules unless told it is local, and reads the rotated master keys', () => {
    const production = parseWorkerEnv(base);
    const local = parseWorkerEnv({
      ...base,
      APP_ENV: 'local',
      VAIKORA_ALLOWED_HOSTS: 'a.example, B.example',
    });
    const rotated = parseWorkerEnv({ ...base, MASTER_KEY_PREVIOUS: Buffer.alloc(32, 2).toString('base64') });
    const badPrevious = parseWorkerEnv({ ...base, MASTER_KEY_PREVIOUS: 'secret-looking-junk' });
    if (!production.ok || !local.ok || !rotated.ok) throw new Error('unexpected');

    expect(runtimeTuningOf(production.env).baseUrlPolicy.mode).toBe('production');
    expect(runtimeTuningOf(local.env).baseUrlPolicy).toEqual({
      mode: 'local',
      allowedHosts: ['a.example', 'b.example'],
    });
    expect(masterKeyOf(rotated.env)).toMatchObject({
      kind: 'local',
      previousKeys: [Buffer.alloc(32, 2).toString('base64')],
    });
    expect(badPrevious.ok).toBe(false);
    expect(JSON.stringify(badPrevious)).not.toContain('secret-looking-junk');
  });

  it('reads every variable the README documents for the worker', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    const documented = readme
      .split('\n')
      .filter((line) => /^\| `[A-Z]/.test(line) && /\bworker\b/.test(line.split('|')[2] ?? ''))
      .flatMap((line) =>
        [...(line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] ?? ''),
      );
    const read = new Set(Object.keys(workerEnvSchema.shape));

    expect(documented.length).toBeGreaterThan(15);
    expect(documented.filter((name) => !read.has(name))).toEqual([]);
  });
});
