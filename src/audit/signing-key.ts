import { createHash, createPublicKey, type KeyObject, verify, type webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PemConverter } from '../platform/index.js';

/** The key reference of the audit signing key in the key provider (a file `<dataDir>/pki/audit-signing.key.pem`). */
export const AUDIT_KEY_REF = 'audit-signing';
const PUBLIC_FILE = `${AUDIT_KEY_REF}.pub.pem`;

/**
 * What the audit module needs from a key provider: the PKI's `KeyProvider` fits it. Declared here because the
 * audit module imports no other module (the PKI itself writes audit events).
 */
export interface AuditKeyHolder {
  readonly crypto: webcrypto.Crypto;
  generate(ref: string, algorithm: 'Ed25519'): Promise<webcrypto.CryptoKeyPair>;
  privateKey(ref: string, algorithm: 'Ed25519'): Promise<webcrypto.CryptoKey | null>;
}

/** The audit signing key: Ed25519, its private half held by the key provider, its public half in a file. */
export interface AuditSigner {
  /** Base64url SHA-256 of the public key's SPKI DER. */
  readonly keyId: string;
  readonly publicKeyPem: string;
  sign(data: Uint8Array): Promise<string>;
}

/** The key id of a public key: base64url SHA-256 of its SPKI DER. */
export function auditKeyId(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('base64url');
}

/**
 * Loads the audit signing key, creating it on first use. The public half is written beside the private one
 * (`audit-signing.pub.pem`): a verifier pins it from there, never from the database a DBA could rewrite. A
 * replaced key's public file is kept (renamed with a suffix) so older checkpoints still verify.
 */
export async function loadAuditSigner(deps: { keys: AuditKeyHolder; keyDir: string }): Promise<AuditSigner> {
  const publicFile = join(deps.keyDir, PUBLIC_FILE);
  let privateKey = await deps.keys.privateKey(AUDIT_KEY_REF, 'Ed25519');
  if (!privateKey) {
    if (existsSync(publicFile)) renameSync(publicFile, `${publicFile}.retired-${Date.now()}`);
    const pair = await deps.keys.generate(AUDIT_KEY_REF, 'Ed25519');
    const spki = await deps.keys.crypto.subtle.exportKey('spki', pair.publicKey);
    mkdirSync(dirname(publicFile), { recursive: true, mode: 0o700 });
    writeFileSync(publicFile, PemConverter.encode(spki, 'PUBLIC KEY'), { mode: 0o644, flag: 'wx' });
    privateKey = pair.privateKey;
  }
  if (!existsSync(publicFile))
    throw new Error(`the audit signing key has no public half at ${publicFile}: restore it from a backup`);
  const publicKeyPem = readFileSync(publicFile, 'utf8');
  const publicKey = createPublicKey(publicKeyPem);
  const key = privateKey;
  const sign = async (data: Uint8Array) =>
    Buffer.from(await deps.keys.crypto.subtle.sign({ name: 'Ed25519' }, key, data)).toString('base64url');
  // A public file that does not belong to the private key would make every checkpoint unverifiable: refuse now.
  const probe = Buffer.from('carapace audit key probe');
  if (!verify(null, probe, publicKey, Buffer.from(await sign(probe), 'base64url')))
    throw new Error(`${publicFile} is not the public half of the audit signing key`);
  return { keyId: auditKeyId(publicKey), publicKeyPem, sign };
}

/** The audit public keys a verifier trusts: every `audit-signing.pub.pem*` in the key directory, by key id. */
export function trustedAuditKeys(keyDir: string, extraFiles: readonly string[] = []): Map<string, KeyObject> {
  const files = existsSync(keyDir)
    ? readdirSync(keyDir)
        .filter((f) => f.startsWith(PUBLIC_FILE))
        .map((f) => join(keyDir, f))
    : [];
  const keys = new Map<string, KeyObject>();
  for (const file of [...files, ...extraFiles]) {
    const key = createPublicKey(readFileSync(file, 'utf8'));
    keys.set(auditKeyId(key), key);
  }
  return keys;
}
