import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { masterKeyFromEnv, openSecretBox } from './master-key.ts';

const key = () => randomBytes(32).toString('base64');

describe('master key from the environment', () => {
  it('opens, after a rotation, what the previous key sealed (every entry point reads MASTER_KEY_PREVIOUS)', async () => {
    const old = key();
    const before = masterKeyFromEnv({ MASTER_KEY: old });
    if (!before.ok) throw new Error(before.problems.join());
    const sealed = await openSecretBox(before.config, { region: 'us-east-1' }).box.seal('vk_live_secret', {
      tenantId: 't1',
    });

    const after = masterKeyFromEnv({ MASTER_KEY: key(), MASTER_KEY_PREVIOUS: ` ${key()}, ${old} ` });
    if (!after.ok) throw new Error(after.problems.join());

    expect(after.config).toMatchObject({ kind: 'local', previousKeys: [expect.any(String), old] });
    expect(
      await openSecretBox(after.config, { region: 'us-east-1' }).box.open(sealed, { tenantId: 't1' }),
    ).toBe('vk_live_secret');
  });

  it('prefers KMS and names the variable, never the value, of a bad key', () => {
    expect(masterKeyFromEnv({ KMS_KEY_ID: 'alias/x', MASTER_KEY: 'junk' })).toEqual({
      ok: true,
      config: { kind: 'kms', keyId: 'alias/x' },
    });
    const bad = masterKeyFromEnv({
      MASTER_KEY: 'not-a-key-secret-value',
      MASTER_KEY_PREVIOUS: 'also-secret',
    });
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad)).not.toMatch(/not-a-key-secret-value|also-secret/);
    expect(JSON.stringify(bad)).toMatch(/MASTER_KEY_PREVIOUS/);
    expect(masterKeyFromEnv({}).ok).toBe(false);
  });
});
