import type { DetailValue } from './event.js';

/** Detail keys that name secrets. Events identify tokens by `jti` and certificates by serial and thumbprint. */
const SECRET_KEY =
  /(password|passwd|secret|token|private|^key$|keypem|pkcs8|totp|authorization|cookie|dpop|csr|code_verifier)/i;

/** Values that are secrets whatever key they sit under. */
const SECRET_VALUE = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /-----BEGIN CERTIFICATE REQUEST-----/,
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/, // a JWT or JWS
  /\$argon2(id|i|d)\$/,
];

/** Error raised when a module tries to put a secret in an audit event: a bug, so it fails loudly. */
export class AuditSecretError extends Error {
  constructor(field: string) {
    super(`audit event field "${field}" looks like a secret; name tokens by jti and certificates by serial`);
    this.name = 'AuditSecretError';
  }
}

function checkValue(field: string, value: DetailValue | undefined): void {
  const values = Array.isArray(value) ? value : [value];
  for (const v of values) {
    if (typeof v === 'string' && SECRET_VALUE.some((re) => re.test(v))) throw new AuditSecretError(field);
  }
}

/** Throws AuditSecretError if any key or value of an event looks like a secret. */
export function assertNoSecrets(
  fields: Record<string, DetailValue | undefined>,
  details: Record<string, DetailValue>,
): void {
  for (const [k, v] of Object.entries(fields)) checkValue(k, v);
  for (const [k, v] of Object.entries(details)) {
    if (SECRET_KEY.test(k)) throw new AuditSecretError(`details.${k}`);
    checkValue(`details.${k}`, v);
  }
}

/**
 * Makes an attacker-controlled value (a request path, a claimed id) safe to record: bounded in length, and
 * replaced when it looks like a secret, so recording a refusal can never fail or store a leaked token.
 */
export function untrusted(value: string, max = 200): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  // Paths arrive percent-encoded: look for secrets in the decoded form too.
  let decoded = value;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    decoded = value;
  }
  return [value, cut, decoded].some((v) => SECRET_VALUE.some((re) => re.test(v)))
    ? '[redacted: looked like a secret]'
    : cut;
}
