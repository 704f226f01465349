/** What a data key is bound to: a data key made for one tenant does not decrypt for another. */
export interface EncryptionContext {
  tenantId: string;
}

export interface DataKey {
  /** The AES-256 key itself; the caller zeroes it after use. */
  plaintext: Uint8Array;
  /** The same key wrapped by the master key: the only form that is stored. */
  encrypted: Uint8Array;
  /** The master key that wrapped it, as `decryptDataKey` needs it back (a KMS key ARN, `local:...`). */
  keyId: string;
}

/** Wraps and unwraps data keys under master keys (KMS in production, configured keys locally). */
export interface MasterKeyProvider {
  /** The master key new data keys are wrapped under. */
  readonly keyId: string;
  generateDataKey(context: EncryptionContext): Promise<DataKey>;
  decryptDataKey(encrypted: Uint8Array, keyId: string, context: EncryptionContext): Promise<Uint8Array>;
}
