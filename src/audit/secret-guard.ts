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
  /\b(?:bearer|dpop)\s+[A-Za-z0-9._~+/-]{20,}/i, // an Authorization header value
];

/** Error raised when a module names a secret in an audit event's details: a bug, so it fails loudly. */
export class AuditSecretError extends Error {
  constructor(field: string) {
    super(`audit event field "${field}" looks like a secret; name tokens by jti and certificates by serial`);
    this.name = 'AuditSecretError';
  }
}

/** What a redacted value reads as in the trail: it says why, and keeps nothing of the value. */
export const REDACTED = '[redacted: looked like a secret]';

function looksSecret(value: string): boolean {
  // Text arrives percent-encoded (paths) as often as plain: look in the decoded form too.
  let decoded = value;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    decoded = value;
  }
  return SECRET_VALUE.some((re) => re.test(value) || re.test(decoded));
}

function redactValue<V extends DetailValue | undefined>(value: V): V {
  if (typeof value === 'string') return (looksSecret(value) ? REDACTED : value) as V;
  if (Array.isArray(value)) return value.map((v) => (looksSecret(v) ? REDACTED : v)) as V;
  return value;
}

/**
 * Makes an event safe to store. A detail key that names a secret is a bug in the module that wrote it, so it
 * throws AuditSecretError. A value that looks like a secret is replaced by REDACTED wherever it sits: values
 * carry what people typed (a reason, a note, a claimed id), and a user pasting a token into a free-text field
 * must neither fail the action being recorded nor get the token stored.
 */
export function redactSecrets<F extends Record<string, DetailValue | undefined>>(
  fields: F,
  details: Record<string, DetailValue>,
): { fields: F; details: Record<string, DetailValue> } {
  for (const k of Object.keys(details)) if (SECRET_KEY.test(k)) throw new AuditSecretError(`details.${k}`);
  const clean = <R extends Record<string, DetailValue | undefined>>(r: R): R =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, redactValue(v)])) as R;
  return { fields: clean(fields), details: clean(details) };
}

/**
 * Makes an attacker-controlled value (a request path, a claimed id) safe to record: bounded in length, and
 * replaced when it looks like a secret, so recording a refusal can never fail or store a leaked token.
 */
export function untrusted(value: string, max = 200): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return looksSecret(value) || looksSecret(cut) ? REDACTED : cut;
}
