import { randomBytes } from 'node:crypto';
import { awsDestinations, type Database, type DestinationRunStats } from '@vsh/db';
import { seedRun } from './harness.ts';

const HOUR = 3_600_000;

/** Inserts a destination as onboarding leaves it, created at `createdAt`; returns its id. */
async function seedDestination(
  db: Database,
  tenantId: string,
  values: { accountId: string; regions: string[]; createdAt: Date },
): Promise<string> {
  const [row] = await db
    .insert(awsDestinations)
    .values({
      tenantId,
      accountId: values.accountId,
      regions: values.regions,
      externalId: `vsh-${randomBytes(12).toString('hex')}`,
      roleName: 'VaikoraSecurityHubConnector',
      state: 'active',
      createdAt: values.createdAt,
      updatedAt: values.createdAt,
    })
    .returning({ id: awsDestinations.id });
  if (row === undefined) throw new Error('seedDestination: no row');
  return row.id;
}

/** A finished run `hoursAgo` before `now` that imported `imported` findings into each destination named. */
export async function seedImportRun(
  db: Database,
  tenantId: string,
  now: Date,
  hoursAgo: number,
  imported: Record<string, number>,
): Promise<void> {
  const startedAt = new Date(now.getTime() - hoursAgo * HOUR);
  const destinationStats: Record<string, DestinationRunStats> = {};
  for (const [id, count] of Object.entries(imported)) {
    destinationStats[id] = { imported: count, rejected: 0, skipped: 0 };
  }
  const total = Object.values(imported).reduce((sum, n) => sum + n, 0);
  await seedRun(db, tenantId, {
    startedAt,
    finishedAt: new Date(startedAt.getTime() + 4_000),
    findingsMapped: total,
    findingsImported: total,
    destinationStats,
  });
}

/** What `seedForecastTenant` seeded: the destinations' ids. */
export interface ForecastSeed {
  /** 30 days old, two regions: 14,000 findings in the last 7 days (and 99,999 eight days ago). */
  old: string;
  /** 3 hours old, one region: 300 findings since its first run 3 hours ago. */
  young: string;
  /** 10 days old, no run in the window. */
  idle: string;
}

/**
 * A tenant's destinations and runs with known forecasts at `now` (ADR 0117): `old` 60,000 findings a
 * month ($1.20; $1.80 without the free tier), `young` 8,000 (its 300 over the 27 h its first run's
 * 24 h look-back covers: $0.00; $0.24), `idle` none; in all 68,000 ($1.20; $2.04).
 */
export async function seedForecastTenant(db: Database, tenantId: string, now: Date): Promise<ForecastSeed> {
  const daysAgo = (days: number) => new Date(now.getTime() - days * 24 * HOUR);
  const old = await seedDestination(db, tenantId, {
    accountId: '111111111111',
    regions: ['us-east-1', 'eu-west-1'],
    createdAt: daysAgo(30),
  });
  const young = await seedDestination(db, tenantId, {
    accountId: '222222222222',
    regions: ['us-east-1'],
    createdAt: new Date(now.getTime() - 3 * HOUR - 60_000),
  });
  const idle = await seedDestination(db, tenantId, {
    accountId: '333333333333',
    regions: ['us-east-1'],
    createdAt: daysAgo(10),
  });
  await seedImportRun(db, tenantId, now, 8 * 24, { [old]: 99_999, [idle]: 5_000 });
  await seedImportRun(db, tenantId, now, 6 * 24, { [old]: 7_000 });
  await seedImportRun(db, tenantId, now, 24, { [old]: 5_000 });
  await seedImportRun(db, tenantId, now, 3, { [old]: 1_000, [young]: 200 });
  await seedImportRun(db, tenantId, now, 1, { [old]: 1_000, [young]: 100 });
  return { old, young, idle };
}
