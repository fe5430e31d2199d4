import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Object ids are random UUIDv4 values (122 bits of entropy, DESIGN rule 3). They carry no meaning: a VIN or
 * a serial is data, never a key to authorization.
 */
export function newId(): string {
  return randomUUID();
}

/**
 * A certificate serial: 16 random bytes (RFC 5280 allows up to 20), uppercase hex. The first byte is kept in
 * 0x10..0x7f so the number is positive and has no leading zero, which keeps the hex form that Node, OpenSSL
 * and our database print identical.
 */
export function newCertificateSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x10 + ((bytes[0] ?? 0) % 0x70);
  return bytes.toString('hex').toUpperCase();
}

/** Normalizes a serial as printed by any tool (colons, case, leading zeros) to our stored form. */
export function normalizeSerial(serial: string): string {
  const hex = serial.replaceAll(':', '').trim().toUpperCase();
  return hex.replace(/^0+(?=.)/, '');
}
