import { awsDestinations, newId, runs } from '@vsh/db';
import { describe, expect, it, vi } from 'vitest';
import { OPERATOR, refusalOf, useServiceTestbed } from '../testing/service-deps.ts';
import { createBackfill, MAX_BACKFILL_DAYS } from './backfills.ts';
import { ServiceError } from './errors.ts';
import { decodeCursor } from './pagination.ts';
import { activityHours, rejectedPage, requestRun, tenantStatus } from './status.ts';
import { saveVaikoraSettings, vaikoraSettingsInputSchema } from './vaikora.ts';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const bed = useServiceTestbed({ clock: () => NOW });

async function connectedTenant() {
  const tenant = await bed.tenant();
  const settings = vaikoraSettingsInputSchema.parse({ apiKey: 'vk_good_key_1234', agentIds: ['agt-a'] });
  await saveVaikoraSettings(bed.deps, OPERATOR, tenant, settings);
  return tenant;
}

describe('run now', () => {
  it('needs the Vaikora connection first', async () => {
    const tenant = await bed.tenant();

    expect(await refusalOf(requestRun(bed.deps, OPERATOR, tenant))).toEqual({
      code: 'not_configured',
      message: 'set the Vaikora connection before asking for a run',
    });
  });

  it('records the request and wakes the worker; a failing hook is logged, never an error', async () => {
    const tenant = await connectedTenant();
    const warn = vi.spyOn(bed.deps.logger, 'warn');
    const onRunNow = vi.fn(async () => {
      throw new Error('worker is down');
    });

    const at = await requestRun({ ...bed.deps, onRunNow }, OPERATOR, tenant);

    expect(at).toEqual(NOW);
    expect(onRunNow).toHaveBeenCalledWith(tenant.id);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ tenantId: tenant.id }),
      'onRunNow hook failed',
    );
    expect((await tenantStatus(bed.deps, tenant)).schedule?.runRequestedAt).toBe(NOW.toISOString());
  });
});

describe('backfills', () => {
  it('refuses an empty, a too long and a future range', async () => {
    const tenant = await connectedTenant();
    const ask = (from: string, to: string) => createBackfill(bed.deps, OPERATOR, tenant, { from, to });

    expect((await refusalOf(ask('2026-02-02T00:00:00Z', '2026-02-01T00:00:00Z'))).message).toBe(
      'body.from: must be before body.to',
    );
    expect((await refusalOf(ask('2026-01-01T00:00:00Z', '2026-02-28T00:00:00Z'))).message).toBe(
      `body.to: the range must be at most ${MAX_BACKFILL_DAYS} days`,
    );
    expect((await refusalOf(ask('2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z'))).message).toBe(
      'body.to: must not be in the future',
    );
  });

  it('needs the Vaikora connection, and a destination of the tenant when one is named', async () => {
    const bare = await bed.tenant();
    const tenant = await connectedTenant();
    const range = { from: '2026-02-01T00:00:00Z', to: '2026-02-02T00:00:00Z' };

    const unconfigured = await refusalOf(createBackfill(bed.deps, OPERATOR, bare, range));
    const unknown = await refusalOf(
      createBackfill(bed.deps, OPERATOR, tenant, {
        ...range,
        destinationId: 'dst_01jd0000000000000000000000',
      }),
    );
    const queued = await createBackfill(bed.deps, OPERATOR, tenant, range);

    expect(unconfigured.code).toBe('not_configured');
    expect(unknown.code).toBe('not_found');
    expect(queued).toMatchObject({ state: 'queued', destinationId: null });
  });
});

describe('cursors', () => {
  it('refuses a cursor this API did not return, for the id lists and the rejected records', async () => {
    const forged = Buffer.from('not an id', 'utf8').toString('base64url');

    expect(() => decodeCursor(forged)).toThrow(ServiceError);
    expect(
      (await refusalOf(rejectedPage(bed.deps.db, 'ten_01jd0000000000000000000000', forged, 10))).message,
    ).toBe('query.cursor: is not a cursor this API returned');
  });
});

describe('status counts summed by PostgreSQL (ADR 0113)', () => {
  it('sums the window per tenant and per destination, takes each destination its latest run, ignores older runs; the activity chart sums per hour', async () => {
    const tenant = await connectedTenant();
    const [one, two] = await bed.deps.db
      .insert(awsDestinations)
      .values(
        ['111111111111', '222222222222'].map((accountId) => ({
          tenantId: tenant.id,
          accountId,
          regions: ['eu-west-1'],
          externalId: `ext-${accountId}-${tenant.id}`,
          roleName: 'VaikoraSecurityHubImport',
        })),
      )
      .returning();
    if (one === undefined || two === undefined) throw new Error('destinations not inserted');
    const at = (minutesAgo: number) => new Date(NOW.getTime() - minutesAgo * 60_000);
    const stats = (imported: number, extra: Record<string, unknown> = {}) => ({
      imported,
      rejected: 1,
      skipped: 2,
      ...extra,
    });
    await bed.deps.db.insert(runs).values([
      // Outside the 24-hour window: counted nowhere.
      {
        id: newId('run'),
        tenantId: tenant.id,
        status: 'failed',
        startedAt: at(25 * 60),
        finishedAt: at(25 * 60 - 1),
        findingsImported: 1_000,
        destinationStats: { [one.id]: stats(1_000) },
      },
      {
        id: newId('run'),
        tenantId: tenant.id,
        status: 'failed',
        startedAt: at(90),
        finishedAt: at(89),
        findingsImported: 3,
        recordsRejected: 2,
        actionsSkipped: 4,
        lagSeconds: 40,
        destinationStats: {
          [one.id]: stats(2, { lagSeconds: 40, errorCode: 'THROTTLED', errorMessage: 'slow down' }),
          [two.id]: stats(1, { lagSeconds: 7 }),
        },
      },
      {
        id: newId('run'),
        tenantId: tenant.id,
        status: 'ok',
        startedAt: at(5),
        finishedAt: at(4),
        findingsImported: 5,
        recordsRejected: 1,
        actionsSkipped: 2,
        lagSeconds: 3,
        destinationStats: { [one.id]: stats(5, { lagSeconds: 3 }) },
      },
    ]);

    const status = await tenantStatus(bed.deps, tenant);
    const hours = await activityHours(bed.deps.db, tenant.id, new Date(NOW.getTime() - 86_400_000));

    expect(status.counts).toEqual({ runs: 2, failedRuns: 1, imported: 8, rejected: 3, skipped: 6 });
    const byId = new Map(status.destinations.map((d) => [d.id, d]));
    expect(byId.get(one.id)).toMatchObject({
      counts: { imported: 7, rejected: 2, skipped: 4 },
      lastRun: { status: 'ok', startedAt: at(5).toISOString() },
      cursorLagSeconds: 3,
      lastRunError: null,
    });
    expect(byId.get(two.id)).toMatchObject({
      counts: { imported: 1, rejected: 1, skipped: 2 },
      lastRun: { status: 'failed', startedAt: at(90).toISOString() },
      cursorLagSeconds: 7,
      lastRunError: null,
    });
    expect(status.lastRun?.startedAt).toBe(at(5).toISOString());
    expect(status.cursorLagSeconds).toBe(3);
    // 12:00 now: the run of 10:30 falls in the 10:00 hour, the run of 11:55 in the 11:00 hour.
    expect(hours.map((h) => [h.hourStart.toISOString(), h.runs, h.imported, h.maxLagSeconds]).sort()).toEqual(
      [
        ['2026-03-01T10:00:00.000Z', 1, 3, 40],
        ['2026-03-01T11:00:00.000Z', 1, 5, 3],
      ],
    );
  });

  it('shows a destination whose latest run failed there with that error', async () => {
    const tenant = await connectedTenant();
    const [destination] = await bed.deps.db
      .insert(awsDestinations)
      .values({
        tenantId: tenant.id,
        accountId: '333333333333',
        regions: ['us-east-1'],
        externalId: `ext-333-${tenant.id}`,
        roleName: 'VaikoraSecurityHubImport',
      })
      .returning();
    if (destination === undefined) throw new Error('destination not inserted');
    await bed.deps.db.insert(runs).values({
      id: newId('run'),
      tenantId: tenant.id,
      status: 'failed',
      startedAt: new Date(NOW.getTime() - 60_000),
      finishedAt: new Date(NOW.getTime() - 30_000),
      destinationStats: {
        [destination.id]: {
          imported: 0,
          rejected: 0,
          skipped: 0,
          errorCode: 'ACCESS_DENIED',
          errorMessage: 'role gone',
        },
      },
    });

    const [shown] = (await tenantStatus(bed.deps, tenant)).destinations;

    expect(shown?.lastRunError).toBe('ACCESS_DENIED: role gone');
    expect(shown?.counts).toEqual({ imported: 0, rejected: 0, skipped: 0 });
  });
});
