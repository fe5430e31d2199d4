import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { PemConverter } from '../platform/index.js';

/** The only signing algorithm our CAs use today: ECDSA P-256 with SHA-256. */
export const CA_KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** Key algorithms a provider holds: P-256 for the CAs, Ed25519 for the platform's command key. */
export type ProviderKeyAlgorithm = 'P-256' | 'Ed25519';
const ALGORITHMS = { 'P-256': CA_KEY_ALGORITHM, Ed25519: { name: 'Ed25519' } } as const;

/**
 * Where CA private keys live. A provider hands out WebCrypto keys and the WebCrypto implementation they
 * belong to, so a KMS, HSM or PKCS#11 provider (for example one built on a PKCS#11 WebCrypto binding) can
 * replace the file provider without any change to the code that signs.
 */
export interface KeyProvider {
  readonly name: string;
  /** The WebCrypto implementation that owns the keys. */
  readonly crypto: webcrypto.Crypto;
  /**
   * Creates and stores a new P-256 key pair under `ref`. Called only when no CA uses `ref`, so a key already
   * stored there is an orphan of a failed start; providers set it aside rather than lose or reuse it.
   */
  generate(ref: string, algorithm?: ProviderKeyAlgorithm): Promise<webcrypto.CryptoKeyPair>;
  /** Stores an existing PKCS#8 PEM private key under `ref`; refuses to overwrite. */
  importPkcs8(ref: string, pem: string): Promise<webcrypto.CryptoKey>;
  /** Loads the private key stored under `ref` as a non-extractable signing key, or null. */
  privateKey(ref: string, algorithm?: ProviderKeyAlgorithm): Promise<webcrypto.CryptoKey | null>;
}

/** Keys as PKCS#8 PEM files, mode 0600, in a directory of mode 0700. For development and single hosts. */
export function createFileKeyProvider(dir: string): KeyProvider {
  const pathOf = (ref: string) => {
    if (!/^[a-z0-9-]+$/.test(ref)) throw new Error(`invalid key reference "${ref}"`);
    return join(dir, `${ref}.key.pem`);
  };
  const ensureDir = () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  };
  const store = (ref: string, pkcs8: ArrayBuffer) => {
    ensureDir();
    const path = pathOf(ref);
    // 'wx' fails if the file exists: a CA key is never silently replaced.
    writeFileSync(path, PemConverter.encode(pkcs8, 'PRIVATE KEY'), { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  };
  const importSigning = (pkcs8: ArrayBuffer, extractable: boolean, algorithm: ProviderKeyAlgorithm = 'P-256') =>
    webcrypto.subtle.importKey('pkcs8', pkcs8, ALGORITHMS[algorithm], extractable, ['sign']);

  return {
    name: 'file',
    crypto: webcrypto,
    async generate(ref, algorithm = 'P-256') {
      const path = pathOf(ref);
      if (existsSync(path)) renameSync(path, `${path}.orphaned-${Date.now()}`);
      const pair = (await webcrypto.subtle.generateKey(ALGORITHMS[algorithm], true, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair;
      store(ref, await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
      // Hand back a non-extractable copy so nothing downstream can export the CA key.
      const privateKey = await importSigning(
        await webcrypto.subtle.exportKey('pkcs8', pair.privateKey),
        false,
        algorithm,
      );
      return { privateKey, publicKey: pair.publicKey };
    },
    async importPkcs8(ref, pem) {
      const der = PemConverter.decodeFirst(pem);
      const key = await importSigning(der, false);
      store(ref, der);
      return key;
    },
    async privateKey(ref, algorithm = 'P-256') {
      const path = pathOf(ref);
      if (!existsSync(path)) return null;
      return importSigning(PemConverter.decodeFirst(readFileSync(path, 'utf8')), false, algorithm);
    },
  };
}
