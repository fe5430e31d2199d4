/**
 * Standard Webhooks (https://www.standardwebhooks.com/) as Carapace sends them, declared once: the webhooks module
 * signs with these functions and the client library's verifier checks with the same ones. The signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`; `v1,` is HMAC-SHA256 with the endpoint's secret, `v1a,` Ed25519
 * with a platform key from the published key set. Several signatures are sent space-separated (a rotation overlap).
 */
import { createHmac, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/** The three headers of every delivery. */
export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** The prefix of an endpoint secret (base64 of the HMAC key follows) and of a published Ed25519 public key. */
export const SECRET_PREFIX = 'whsec_';
export const PUBLIC_KEY_PREFIX = 'whpk_';

/** The bytes that are signed. */
export function signedContent(id: string, timestamp: number, body: string): string {
  return `${id}.${timestamp}.${body}`;
}

/** The HMAC key of a `whsec_` secret. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/** `v1,<base64 HMAC-SHA256>` of the content. */
export function hmacSignature(secret: string, content: string): string {
  return `v1,${createHmac('sha256', secretKey(secret)).update(content).digest('base64')}`;
}

/** `v1a,<base64 Ed25519>` of the content. */
export function ed25519Signature(privateKey: KeyObject, content: string): string {
  return `v1a,${sign(null, Buffer.from(content), privateKey).toString('base64')}`;
}

/** An Ed25519 public key from its published form (`whpk_` + base64 of the 32 raw bytes). */
export function publicKeyOf(published: string): KeyObject {
  const raw = Buffer.from(published.replace(PUBLIC_KEY_PREFIX, ''), 'base64');
  if (raw.length !== 32) throw new Error('an Ed25519 public key has 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** The published form of an Ed25519 public key. */
export function publishedKey(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as { x: string };
  return `${PUBLIC_KEY_PREFIX}${Buffer.from(jwk.x, 'base64url').toString('base64')}`;
}

/** An Ed25519 private key from its PKCS#8 PEM. */
export function privateKeyOf(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/** The signatures of a `webhook-signature` header, by scheme. */
export function parseSignatures(header: string): { scheme: string; value: string }[] {
  return header
    .split(' ')
    .map((part) => part.split(','))
    .filter((p): p is [string, string] => p.length === 2 && p[0] !== '' && p[1] !== '')
    .map(([scheme, value]) => ({ scheme, value }));
}

/** Whether `signature` (base64) is a valid Ed25519 signature of `content` under `key`. */
export function verifyEd25519(key: KeyObject, content: string, signature: string): boolean {
  const sig = Buffer.from(signature, 'base64');
  return sig.length === 64 && verify(null, Buffer.from(content), key, sig);
}
