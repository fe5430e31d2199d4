import { X509Certificate } from 'node:crypto';
import type { Kysely } from 'kysely';
import { findCertificate } from '../pki/index.js';
import type { Database } from '../storage/index.js';
import { verifySignature } from './screen.js';

/** What re-verifying a device's stored telemetry found. */
export interface Reverification {
  deviceId: string;
  since: string;
  until: string;
  /** Stored messages in the window (accepted and rejected; duplicates are never stored). */
  messages: number;
  /** Signature checks that passed / failed against the certificate each message was received under. */
  verified: number;
  failed: number;
  /** Messages accepted at ingestion whose signature no longer verifies: the store was altered, or a key forged. */
  acceptedButFailed: number;
  /** Messages whose certificate is not in the PKI any more (cannot be checked). */
  unknownCertificate: number;
}

const PAGE = 1000;

/**
 * Pulls a device's stored signed telemetry received in [since, until] and verifies every message again: the exact
 * signed bytes, the stored signature, the public key of the certificate recorded with it. Reads only.
 */
export async function reverifyDeviceTelemetry(
  db: Kysely<Database>,
  args: { deviceId: string; since: Date; until: Date },
): Promise<Reverification> {
  const out: Reverification = {
    deviceId: args.deviceId,
    since: args.since.toISOString(),
    until: args.until.toISOString(),
    messages: 0,
    verified: 0,
    failed: 0,
    acceptedButFailed: 0,
    unknownCertificate: 0,
  };
  const keys = new Map<string, X509Certificate['publicKey'] | null>();
  let after = '';
  for (;;) {
    const rows = await db
      .selectFrom('telemetry_messages')
      .select(['id', 'cert_serial', 'verdict', 'signed_bytes', 'signature'])
      .where('device_id', '=', args.deviceId)
      .where('received_at', '>=', out.since)
      .where('received_at', '<=', out.until)
      .where('id', '>', after)
      .orderBy('id')
      .limit(PAGE)
      .execute();
    for (const r of rows) {
      out.messages++;
      if (!keys.has(r.cert_serial)) {
        const cert = await findCertificate(db, r.cert_serial);
        keys.set(r.cert_serial, cert ? new X509Certificate(cert.pem).publicKey : null);
      }
      const key = keys.get(r.cert_serial);
      if (!key) {
        out.unknownCertificate++;
        continue;
      }
      const ok = verifySignature(key, Buffer.from(r.signed_bytes), Buffer.from(r.signature, 'base64url'));
      if (ok) out.verified++;
      else {
        out.failed++;
        if (r.verdict === 'accepted') out.acceptedButFailed++;
      }
    }
    if (rows.length < PAGE) return out;
    after = rows[rows.length - 1]!.id;
  }
}
