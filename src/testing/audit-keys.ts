import { webcrypto } from 'node:crypto';
import type { AuditKeyHolder } from '../audit/index.js';

/** An audit key holder kept in memory: the tests' stand-in for the PKI's key provider. */
export function memoryAuditKeys(): AuditKeyHolder {
  const held = new Map<string, webcrypto.CryptoKey>();
  return {
    crypto: webcrypto,
    async generate(ref) {
      const pair = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, false, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair;
      held.set(ref, pair.privateKey);
      return pair;
    },
    privateKey: async (ref) => held.get(ref) ?? null,
  };
}
