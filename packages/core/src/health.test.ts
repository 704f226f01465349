import { describe, expect, it } from 'vitest';
import { HEALTH_STATUSES, type HealthInput, healthRank, isHealthStatus, tenantHealth } from './health.ts';

const now = new Date('2026-12-04T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);

const healthy: HealthInput = {
  tenantState: 'active',
  vaikora: { configured: true, lastError: null },
  destinations: { pending: 0, verified: 0, active: 1, degraded: 0, disabled: 0 },
  lastRun: { status: 'ok', startedAt: minutesAgo(2) },
  failedRuns24h: 0,
  firstFindingImported: true,
  pollIntervalSeconds: 300,
  now,
};
const none = { pending: 0, verified: 0, active: 0, degraded: 0, disabled: 0 };

describe('tenantHealth', () => {
  it.each<[string, Partial<HealthInput>, string]>([
    ['everything working', {}, 'healthy'],
    [
      'offboarded whatever else',
      { tenantState: 'offboarded', lastRun: { status: 'failed', startedAt: now } },
      'offboarded',
    ],
    [
      'a brand-new tenant',
      {
        vaikora: { configured: false, lastError: null },
        destinations: none,
        lastRun: null,
        firstFindingImported: false,
      },
      'setup',
    ],
    [
      'an AWS account added but not verified',
      { destinations: { ...none, pending: 1 }, lastRun: null, firstFindingImported: false },
      'setup',
    ],
    ['configured, waiting for its first run', { lastRun: null, firstFindingImported: false }, 'setup'],
    ['Vaikora refusing the key', { vaikora: { configured: true, lastError: 'UNAUTHORIZED' } }, 'failing'],
    ['a disabled destination', { destinations: { ...none, active: 1, disabled: 1 } }, 'failing'],
    [
      'the last run failed',
      { lastRun: { status: 'failed', startedAt: minutesAgo(1) }, failedRuns24h: 1 },
      'failing',
    ],
    ['a degraded destination', { destinations: { ...none, degraded: 1 } }, 'attention'],
    ['the last run partial', { lastRun: { status: 'partial', startedAt: minutesAgo(1) } }, 'attention'],
    ['runs failed earlier today', { failedRuns24h: 2 }, 'attention'],
    [
      'no run for an hour at a 5-minute interval',
      { lastRun: { status: 'ok', startedAt: minutesAgo(60) } },
      'attention',
    ],
    [
      'a run 10 minutes ago at a 5-minute interval',
      { lastRun: { status: 'ok', startedAt: minutesAgo(10) } },
      'healthy',
    ],
    ['running fine but nothing imported yet', { firstFindingImported: false }, 'healthy'],
  ])('%s: %s', (_name, change, expected) => {
    expect(tenantHealth({ ...healthy, ...change }).status).toBe(expected);
  });

  it('says why in words a person reads, and the checklist marks each step', () => {
    const health = tenantHealth({
      ...healthy,
      vaikora: { configured: true, lastError: 'the API key was refused' },
      destinations: { ...none, active: 1, degraded: 2 },
      firstFindingImported: false,
    });

    expect(health.status).toBe('failing');
    expect(health.reasons).toEqual([
      'Vaikora refuses the connection: the API key was refused',
      '2 AWS accounts are degraded',
    ]);
    expect(health.checklist).toEqual({ vaikora: 'problem', aws: 'problem', firstFinding: 'todo' });
  });

  it('marks a new tenant’s checklist as all to do, and the first finding as a problem when runs fail', () => {
    const fresh = tenantHealth({
      ...healthy,
      vaikora: { configured: false, lastError: null },
      destinations: none,
      lastRun: null,
      firstFindingImported: false,
    });
    const stuck = tenantHealth({
      ...healthy,
      lastRun: { status: 'failed', startedAt: now },
      firstFindingImported: false,
    });

    expect(fresh.checklist).toEqual({ vaikora: 'todo', aws: 'todo', firstFinding: 'todo' });
    expect(fresh.reasons).toEqual(['Vaikora is not connected yet', 'no AWS account added yet']);
    expect(stuck.checklist.firstFinding).toBe('problem');
  });

  it('ranks failing first and offboarded last, and recognises only its own words', () => {
    expect([...HEALTH_STATUSES].sort((a, b) => healthRank(a) - healthRank(b))).toEqual([
      'failing',
      'attention',
      'setup',
      'healthy',
      'offboarded',
    ]);
    expect(isHealthStatus('attention')).toBe(true);
    expect(isHealthStatus('degraded')).toBe(false);
  });
});
