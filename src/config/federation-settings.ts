const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Signature algorithms an external issuer may use: asymmetric only (never `none`, never an HMAC secret). */
export const FEDERATION_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

/** One external OpenID Connect issuer (`federation.issuers[]`). */
export interface FederatedIssuerSettings {
  /** Short name used in audit events and metrics. */
  id: string;
  issuer: string;
  /** Where its keys are; when absent, from its discovery document (`<issuer>/.well-known/openid-configuration`). */
  jwksUri?: string;
  /** The `aud` its tokens must carry for Carapace (the client id Carapace's app has at that issuer). */
  audience: string;
  algorithms: string[];
  /** The Carapace client ids that may exchange this issuer's tokens. */
  clients: string[];
  /** The claim naming the account at the issuer (default `sub`). */
  subjectClaim?: string;
  /** Link an unlinked account to the Carapace user with the same email, if the token says `email_verified: true`. */
  linkByVerifiedEmail?: boolean;
  /** The `acr` values and `amr` methods of this issuer that mean a second factor (absent: never MFA). */
  mfa?: { acr?: string[]; amr?: string[] };
}

const ISSUER_KEYS = new Set([
  'id',
  'issuer',
  'jwksUri',
  'audience',
  'algorithms',
  'clients',
  'subjectClaim',
  'linkByVerifiedEmail',
  'mfa',
]);
const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0);

/** The shape of one `federation.issuers[]` entry, or why it is wrong. */
function issuerProblem(row: unknown, at: string): string | null {
  if (!isMapping(row)) return `${at} must be a mapping`;
  const stray = Object.keys(row).filter((k) => !ISSUER_KEYS.has(k));
  if (stray.length) return `${at} has unknown keys: ${stray.join(', ')}`;
  if (typeof row.id !== 'string' || !/^[a-z0-9-]{1,40}$/.test(row.id)) return `${at}.id must be [a-z0-9-]{1,40}`;
  for (const k of ['issuer', 'audience'] as const)
    if (typeof row[k] !== 'string' || row[k] === '') return `${at}.${k} must be a non-empty string`;
  for (const k of ['issuer', 'jwksUri'] as const) {
    if (row[k] === undefined) continue;
    try {
      const u = new URL(row[k] as string);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') return `${at}.${k} must be an http(s) URL`;
    } catch {
      return `${at}.${k} must be a URL`;
    }
  }
  if (!strings(row.algorithms) || (row.algorithms as string[]).length === 0)
    return `${at}.algorithms must be a non-empty list`;
  const bad = (row.algorithms as string[]).filter((a) => !FEDERATION_ALGORITHMS.includes(a));
  if (bad.length) return `${at}.algorithms may hold only ${FEDERATION_ALGORITHMS.join(', ')} (not ${bad.join(', ')})`;
  if (!strings(row.clients) || (row.clients as string[]).length === 0) return `${at}.clients must be a non-empty list`;
  if (row.subjectClaim !== undefined && (typeof row.subjectClaim !== 'string' || row.subjectClaim === ''))
    return `${at}.subjectClaim must be a claim name`;
  if (row.linkByVerifiedEmail !== undefined && typeof row.linkByVerifiedEmail !== 'boolean')
    return `${at}.linkByVerifiedEmail must be true or false`;
  if (row.mfa !== undefined) {
    const mfa = row.mfa;
    if (!isMapping(mfa) || Object.keys(mfa).some((k) => k !== 'acr' && k !== 'amr'))
      return `${at}.mfa must be a mapping with acr and/or amr`;
    if ((mfa.acr !== undefined && !strings(mfa.acr)) || (mfa.amr !== undefined && !strings(mfa.amr)))
      return `${at}.mfa.acr and .amr must be lists of strings`;
  }
  return null;
}

/** The shape of `federation.issuers`: a list of distinct issuers. */
export function issuersProblem(v: unknown): string | null {
  if (!Array.isArray(v)) return 'must be a list of issuers';
  for (const [i, row] of v.entries()) {
    const p = issuerProblem(row, `[${i}]`);
    if (p) return p;
  }
  const rows = v as FederatedIssuerSettings[];
  if (new Set(rows.map((r) => r.issuer)).size !== rows.length) return 'lists an issuer twice';
  if (new Set(rows.map((r) => r.id)).size !== rows.length) return 'lists an id twice';
  return null;
}
