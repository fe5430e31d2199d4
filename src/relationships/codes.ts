import { createHash, randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A code a person types from a screen: 20 Crockford base32 characters (100 bits), in groups of five. */
export function newTypedCode(): string {
  const bytes = randomBytes(20);
  const chars = [...bytes].map((b) => CROCKFORD[b & 31]).join('');
  return chars.match(/.{5}/g)?.join('-') ?? chars;
}

/** Normalizes a typed code: case, separators and the look-alike letters Crockford maps (O→0, I/L→1). */
export function normalizeTypedCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/** A code passed along by link or message: 32 bytes, base64url. */
export function newLinkCode(): string {
  return randomBytes(32).toString('base64url');
}

/** How codes are stored: only their SHA-256, so a database read gives nothing usable (codes are high-entropy). */
export function codeHash(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex');
}
