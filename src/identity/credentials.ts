import { hash, verify } from '@node-rs/argon2';
import { Secret, TOTP } from 'otpauth';

/**
 * argon2id with the OWASP-recommended minimum (19 MiB, 2 iterations, 1 lane): the library defaults, named
 * here so a change is a decision.
 */
const ARGON2 = { algorithm: 2 as const, memoryCost: 19456, timeCost: 2, parallelism: 1 };

/** Hashes a password with argon2id. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

// A real hash of a random password: verifying against it for unknown users costs the same as for known ones,
// so response time does not tell whether an account exists.
let dummy: Promise<string> | null = null;

/** Verifies a password; with a null hash (unknown user) it still spends the time and returns false. */
export async function verifyPassword(passwordHash: string | null, password: string): Promise<boolean> {
  dummy ??= hashPassword(`dummy-${Math.random()}`);
  const target = passwordHash ?? (await dummy);
  const ok = await verify(target, password).catch(() => false);
  return passwordHash !== null && ok;
}

/** TOTP parameters of RFC 6238 as authenticator apps use them: SHA-1, 6 digits, 30 s. */
function totp(secretBase32: string): TOTP {
  return new TOTP({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: 30 });
}

/** A new random TOTP secret (base32), 160 bits. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/**
 * Checks a TOTP code at `now` with one step of drift either way. Returns the accepted time step, or null.
 * Callers refuse a step at or below the last accepted one, so a code works once.
 */
export function checkTotp(secretBase32: string, code: string, now: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const t = totp(secretBase32);
  const delta = t.validate({ token: code, timestamp: now.getTime(), window: 1 });
  if (delta === null) return null;
  return Math.floor(now.getTime() / 1000 / 30) + delta;
}

/** The current code, for tests and the demo personas. */
export function currentTotp(secretBase32: string, now: Date): string {
  return totp(secretBase32).generate({ timestamp: now.getTime() });
}
