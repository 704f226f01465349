import { decrypt, encrypt } from './aes-gcm.ts';
import { SecretsError } from './errors.ts';
import type { EncryptionContext, MasterKeyProvider } from './provider.ts';
import { formatSealed, parseSealed, type SealedSecret } from './sealed.ts';

export interface SecretBox {
  /** Encrypts `plaintext` for one tenant under a fresh data key wrapped by the provider's primary master key. */
  seal(plaintext: string, context: EncryptionContext): Promise<SealedSecret>;
  /** Decrypts a sealed secret; fails with `DECRYPT_FAILED` for another tenant's context or any altered byte. */
  open(sealed: SealedSecret | string, context: EncryptionContext): Promise<string>;
}

function checkContext(context: EncryptionContext): void {
  if (typeof context?.tenantId !== 'string' || context.tenantId.length === 0) {
    throw new SecretsError('MALFORMED', 'encryption context needs a non-empty tenantId', false);
  }
}

// The tenant id authenticates the ciphertext; the version prefix keeps these bytes from meaning
// anything in another format.
function aadFor(context: EncryptionContext): Uint8Array {
  return Buffer.from(`vsh1|${context.tenantId}`, 'utf8');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Envelope encryption for tenant secrets (Vaikora API keys): each secret gets its own AES-256-GCM data
 * key, only the wrapped data key is stored beside the ciphertext, and the tenant id is authenticated
 * data, so a sealed value copied into another tenant's row does not open.
 */
export function createSecretBox(provider: MasterKeyProvider): SecretBox {
  return {
    async seal(plaintext, context) {
      checkContext(context);
      if (typeof plaintext !== 'string')
        throw new SecretsError('MALFORMED', 'only strings can be sealed', false);
      const dataKey = await provider.generateDataKey(context);
      try {
        const { iv, ciphertext, tag } = encrypt(
          dataKey.plaintext,
          Buffer.from(plaintext, 'utf8'),
          aadFor(context),
        );
        return formatSealed({
          keyId: dataKey.keyId,
          encryptedDataKey: dataKey.encrypted,
          iv,
          ciphertext,
          tag,
        });
      } finally {
        dataKey.plaintext.fill(0);
      }
    },

    async open(sealed, context) {
      checkContext(context);
      const parts = parseSealed(sealed);
      const key = await provider.decryptDataKey(parts.encryptedDataKey, parts.keyId, context);
      let plaintext: Buffer;
      try {
        plaintext = decrypt(key, parts, aadFor(context));
      } catch (cause) {
        throw new SecretsError(
          'DECRYPT_FAILED',
          `sealed secret did not authenticate for tenant ${context.tenantId} (wrong tenant or altered)`,
          false,
          { cause },
        );
      } finally {
        key.fill(0);
      }
      try {
        return utf8.decode(plaintext);
      } catch {
        throw new SecretsError('MALFORMED', 'sealed secret did not decrypt to UTF-8 text', false);
      } finally {
        plaintext.fill(0);
      }
    },
  };
}
