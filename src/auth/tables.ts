/** One oidc-provider model instance (grant, session, code, refresh token, interaction, …). */
export interface OidcPayloadRow {
  /** `<model>:<sha256(id)>`: the id of a code, token or session is a bearer secret and is never stored. */
  key: string;
  model: string;
  payload: string;
  grant_id: string | null;
  /** The user a grant, session or token belongs to, so a password change can end them all. */
  account_id: string | null;
  uid: string | null;
  expires_at: string | null;
  consumed_at: string | null;
}

/** A signing key of the token key set; the private half lives with the key provider, not here. */
export interface TokenSigningKeyRow {
  kid: string;
  alg: string;
  /** JSON public JWK, published at the JWKS endpoint. */
  public_jwk: string;
  /** `current` signs, `next` is published ahead of use, `retired` is published until its tokens expire. */
  status: 'next' | 'current' | 'retired';
  created_at: string;
  retired_at: string | null;
}

/**
 * What a denylist entry names: one access token, every token of a grant, a client's tokens issued so far, or a
 * suspended client (every token of it, issued before or after, until the entry is removed; it gets no new ones).
 */
export type DeniedTokenKind = 'jti' | 'grant' | 'client' | 'suspended_client';

/** A revoked access token, grant or client, kept as long as a token it denies could still be valid. */
export interface TokenDenylistRow {
  id: string;
  kind: DeniedTokenKind;
  /** The token's `jti`, the grant reference a token carries (`gid`, a hash), or the `client_id`. */
  value: string;
  denied_at: string;
  expires_at: string;
}

/** Tables owned by the auth module. */
export interface AuthTables {
  oidc_payloads: OidcPayloadRow;
  token_signing_keys: TokenSigningKeyRow;
  token_denylist: TokenDenylistRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends AuthTables {}
}
