import { describe, expect, it, vi } from 'vitest';
import { OPERATOR, refusalOf, useServiceTestbed } from '../testing/service-deps.ts';
import { createBackfill, MAX_BACKFILL_DAYS } from './backfills.ts';
import { ServiceError } from './errors.ts';
import { decodeCursor } from './pagination.ts';
import { rejectedPage, requestRun, tenantStatus } from './status.ts';
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
