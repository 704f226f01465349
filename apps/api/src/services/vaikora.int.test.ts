import { vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { VaikoraClientFactory } from '../deps.ts';
import { OPERATOR, refusalOf, useServiceTestbed } from '../testing/service-deps.ts';
import {
  DEFAULT_VAIKORA_BASE_URL,
  saveVaikoraSettings,
  testVaikoraConnection,
  type VaikoraSettingsInput,
  vaikoraSettingsInputSchema,
  verifyStoredVaikoraKey,
} from './vaikora.ts';

const bed = useServiceTestbed();

function input(fields: Partial<VaikoraSettingsInput> = {}): VaikoraSettingsInput {
  return { ...vaikoraSettingsInputSchema.parse({ agentIds: ['agt-a'] }), ...fields };
}

describe('saving the Vaikora connection', () => {
  it('stores a key Vaikora accepts, sealed, and keeps it when a later save omits it', async () => {
    const tenant = await bed.tenant();

    await saveVaikoraSettings(bed.deps, OPERATOR, tenant, input({ apiKey: 'vk_good_key_1234' }));
    const kept = await saveVaikoraSettings(bed.deps, OPERATOR, tenant, input({ pollIntervalSeconds: 600 }));

    expect(kept).toMatchObject({
      baseUrl: DEFAULT_VAIKORA_BASE_URL,
      pollIntervalSeconds: 600,
      lastError: null,
    });
    expect(kept.apiKeyCiphertext).not.toContain('vk_good_key_1234');
    expect(await bed.deps.secretBox.open(kept.apiKeyCiphertext, { tenantId: tenant.id })).toBe(
      'vk_good_key_1234',
    );
  });

  it('refuses a host outside the allow-list, a first save without a key, and a key Vaikora refuses', async () => {
    const tenant = await bed.tenant();

    const host = await refusalOf(
      saveVaikoraSettings(
        bed.deps,
        OPERATOR,
        tenant,
        input({ apiKey: 'k', baseUrl: 'https://evil.test/api' }),
      ),
    );
    const noKey = await refusalOf(saveVaikoraSettings(bed.deps, OPERATOR, tenant, input()));
    const refused = await refusalOf(
      saveVaikoraSettings(bed.deps, OPERATOR, tenant, input({ apiKey: 'bad-key' })),
    );

    expect(host.code).toBe('base_url_not_allowed');
    expect(noKey).toEqual({
      code: 'invalid_input',
      message: 'body.apiKey: is required when no key is stored',
    });
    expect(refused.code).toBe('vaikora_verification_failed');
    const rows = await bed.deps.db
      .select()
      .from(vaikoraSettings)
      .where(eq(vaikoraSettings.tenantId, tenant.id));
    expect(rows).toEqual([]);
  });

  it('asks for the key again when the stored one cannot be opened', async () => {
    const tenant = await bed.tenant();
    await saveVaikoraSettings(bed.deps, OPERATOR, tenant, input({ apiKey: 'vk_good_key_1234' }));
    await bed.deps.db
      .update(vaikoraSettings)
      .set({ apiKeyCiphertext: 'v1.damaged' })
      .where(eq(vaikoraSettings.tenantId, tenant.id));

    const refused = await refusalOf(saveVaikoraSettings(bed.deps, OPERATOR, tenant, input()));

    expect(refused.code).toBe('vaikora_key_unreadable');
    expect(refused.message).not.toContain('v1.damaged');
  });
});

describe('verifying and testing the connection', () => {
  it('records a refused stored key as an outcome, not an error', async () => {
    const tenant = await bed.tenant();
    await saveVaikoraSettings(bed.deps, OPERATOR, tenant, input({ apiKey: 'vk_good_key_1234' }));
    const refusing: VaikoraClientFactory = () => ({
      async verify() {
        return { ok: false, code: 'UNAUTHORIZED', message: 'HTTP 401' };
      },
    });

    const out = await verifyStoredVaikoraKey({ ...bed.deps, vaikoraClient: refusing }, OPERATOR, tenant);

    expect(out.check).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    expect(out.settings.lastError).toBe(out.check.ok ? null : out.check.message);
  });

  it('needs settings to verify, and a key to test when none is stored', async () => {
    const tenant = await bed.tenant();

    const verify = await refusalOf(verifyStoredVaikoraKey(bed.deps, OPERATOR, tenant));
    const test = await refusalOf(
      testVaikoraConnection(bed.deps, tenant, { baseUrl: DEFAULT_VAIKORA_BASE_URL }),
    );

    expect(verify.code).toBe('not_configured');
    expect(test).toEqual({
      code: 'not_configured',
      message: 'body.apiKey: is required when no key is stored',
    });
  });

  it('lists only the agent ids the settings would accept', async () => {
    const tenant = await bed.tenant();
    const discovering: VaikoraClientFactory = () => ({
      async verify() {
        return { ok: true, total: 2 };
      },
      async discoverAgents() {
        return { agents: ['agt-a', 'has space'], complete: true };
      },
    });

    const out = await testVaikoraConnection({ ...bed.deps, vaikoraClient: discovering }, tenant, {
      apiKey: 'vk_good_key_1234',
      baseUrl: DEFAULT_VAIKORA_BASE_URL,
    });

    expect(out).toEqual({
      ok: true,
      code: null,
      message: 'Vaikora accepted the key; 1 agent found',
      agents: ['agt-a'],
      agentsComplete: true,
    });
  });
});
