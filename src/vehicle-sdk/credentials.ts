import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { x509 } from '../platform/index.js';

x509.cryptoProvider.set(webcrypto);

/** The device key types the platform certifies. */
export type DeviceKeyAlgorithm = 'Ed25519' | 'P-256';

/** A device key pair with its PKCS#8 PEM form, as a device would keep it in its secure storage. */
export interface DeviceKey {
  algorithm: DeviceKeyAlgorithm;
  privateKeyPem: string;
  keys: webcrypto.CryptoKeyPair;
}

const PARAMS = {
  Ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  'P-256': { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
} as const;

/** Generates a new device key pair on the device. The private key never leaves it. */
export async function generateDeviceKey(algorithm: DeviceKeyAlgorithm = 'Ed25519'): Promise<DeviceKey> {
  const keys = (await webcrypto.subtle.generateKey(PARAMS[algorithm].gen, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { algorithm, privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), keys };
}

/** Creates a PEM CSR that proves possession of the key. The platform ignores the subject and sets its own. */
export async function createCsr(key: DeviceKey, commonName = 'carapace-device'): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName.replace(/[,+"\\<>;=#]/g, '')}`,
    keys: key.keys,
    signingAlgorithm: PARAMS[key.algorithm].sign,
  });
  return csr.toString('pem');
}

/** Loads a device key from its PKCS#8 PEM form (as kept in the device's storage), Ed25519 or P-256. */
export async function importDeviceKey(privateKeyPem: string): Promise<DeviceKey> {
  const node = createPrivateKey(privateKeyPem);
  const algorithm: DeviceKeyAlgorithm = node.asymmetricKeyType === 'ed25519' ? 'Ed25519' : 'P-256';
  if (node.asymmetricKeyType !== 'ed25519' && node.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new Error('a device key is Ed25519 or P-256');
  const pkcs8 = node.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(node).export({ type: 'spki', format: 'der' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, PARAMS[algorithm].gen, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', spki, PARAMS[algorithm].gen, true, ['verify']);
  return { algorithm, privateKeyPem, keys: { privateKey, publicKey } };
}
