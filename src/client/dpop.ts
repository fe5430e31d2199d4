import { createHash, randomUUID, type webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

type KeyLike = webcrypto.CryptoKey;

/** A DPoP key pair held by the client (RFC 9449); the authorization server binds tokens to it. */
export class DpopKey {
  private constructor(
    private readonly privateKey: KeyLike,
    readonly publicJwk: JWK,
  ) {}

  /** Generates a fresh ES256 key that never leaves this process. */
  static async generate(): Promise<DpopKey> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: false });
    return new DpopKey(privateKey, await exportJWK(publicKey));
  }

  /**
   * A proof for one request; `accessToken` adds the `ath` hash for resource requests. `issuedAt` (seconds) replaces
   * the current time: only for checking that a server refuses stale or future proofs (`carapace probe`).
   */
  async proof(method: string, url: string, accessToken?: string, issuedAt?: number): Promise<string> {
    const u = new URL(url);
    const claims: Record<string, unknown> = {
      htm: method,
      htu: `${u.protocol}//${u.host}${u.pathname}`,
      jti: randomUUID(),
    };
    if (accessToken) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
    return new SignJWT(claims)
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: this.publicJwk })
      .setIssuedAt(issuedAt)
      .sign(this.privateKey);
  }
}
