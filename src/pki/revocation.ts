import { x509 } from '../platform/index.js';
import { type RequestContext, untrusted } from '../audit/index.js';
import { CarapaceError } from '../platform/index.js';
import { normalizeSerial } from '../platform/index.js';
import type { CertificateAuthority } from './authorities.js';
import { announce, type PkiContext } from './context.js';
import { type ChangeActor, REVOCATION_REASONS, type RevocationReason, transitionDevice } from './devices.js';
import { CA_KEY_ALGORITHM } from './key-provider.js';
import type { CaRole, DeviceRow, DeviceStatus } from './tables.js';

/** What a revocation did. */
export interface RevocationResult {
  revokedSerials: string[];
  deviceId: string | null;
}

/** Parses a reason code, refusing anything RFC 5280 does not define for our use. */
export function parseRevocationReason(reason: string): RevocationReason {
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) {
    throw new CarapaceError(
      'ERR_PKI_REVOCATION_INVALID',
      `unknown revocation reason "${reason}"; use one of ${REVOCATION_REASONS.join(', ')}`,
      { field: 'reason' },
    );
  }
  return reason as RevocationReason;
}

/** Revokes one certificate by serial. Idempotent: revoking a revoked certificate changes nothing. */
export async function revokeCertificate(
  ctx: PkiContext,
  args: { serial: string; reason: RevocationReason; actor: ChangeActor; context: RequestContext | null },
): Promise<RevocationResult> {
  const serial = normalizeSerial(args.serial);
  if (!/^[0-9A-F]{1,40}$/.test(serial))
    throw new CarapaceError('ERR_PKI_REVOCATION_INVALID', 'a serial is hexadecimal', { field: 'serial' });
  const at = ctx.clock.now().toISOString();
  const row = await ctx.db.transaction().execute(async (trx) => {
    const cert = await trx
      .selectFrom('certificates')
      .select(['serial', 'status', 'device_id', 'profile'])
      .where('serial', '=', serial)
      .executeTakeFirst();
    if (!cert)
      throw new CarapaceError('ERR_PKI_CERT_NOT_FOUND', 'no certificate with that serial was issued here', { serial });
    if (cert.status === 'revoked') return { ...cert, changed: false };
    await trx
      .updateTable('certificates')
      .set({ status: 'revoked', revoked_at: at, revocation_reason: args.reason, overlap_until: null })
      .where('serial', '=', serial)
      .execute();
    await ctx.audit.append(trx, {
      type: 'pki.certificate.revoked',
      actor: args.actor,
      object: { type: 'certificate', id: serial },
      action: 'revoke',
      decision: 'allow',
      reason: args.reason,
      context: args.context,
      details: { deviceId: cert.device_id, profile: cert.profile },
    });
    return { ...cert, changed: true };
  });
  if (row.changed)
    await announce(ctx, [
      { kind: 'certificates-revoked', serials: [serial], deviceIds: row.device_id ? [row.device_id] : [] },
    ]);
  return { revokedSerials: row.changed ? [serial] : [], deviceId: row.device_id };
}

/**
 * Changes a device's lifecycle state (quarantine, release, revoke, decommission). Revoking or
 * decommissioning revokes all its certificates; every open connection of the device is closed.
 */
export async function changeDeviceStatus(
  ctx: PkiContext,
  args: {
    deviceId: string;
    to: DeviceStatus;
    reason: string;
    revocationReason?: RevocationReason;
    actor: ChangeActor;
    context: RequestContext | null;
  },
): Promise<{ device: DeviceRow; revokedSerials: string[] }> {
  args = { ...args, reason: untrusted(args.reason, 500) };
  try {
    const { device, revoked } = await ctx.db
      .transaction()
      .execute((trx) => transitionDevice(trx, ctx.audit, { ...args, at: ctx.clock.now() }));
    await announce(ctx, [
      ...(revoked.length > 0
        ? [{ kind: 'certificates-revoked' as const, serials: revoked.map((r) => r.serial), deviceIds: [device.id] }]
        : []),
      { kind: 'device-status', deviceId: device.id, status: device.status },
    ]);
    return { device, revokedSerials: revoked.map((r) => r.serial) };
  } catch (err) {
    if (err instanceof CarapaceError) {
      await ctx.audit.append(ctx.db, {
        type: 'pki.device.transition_refused',
        actor: args.actor,
        object: { type: 'device', id: args.deviceId },
        action: `transition:${args.to}`,
        decision: 'deny',
        reason: err.code,
        context: args.context,
        details: { message: err.message },
      });
    }
    throw err;
  }
}

/** Revokes a device: its state becomes revoked and every certificate it holds is revoked. */
export function revokeDevice(
  ctx: PkiContext,
  args: { deviceId: string; reason: RevocationReason; actor: ChangeActor; context: RequestContext | null },
) {
  return changeDeviceStatus(ctx, {
    deviceId: args.deviceId,
    to: 'revoked',
    reason: args.reason,
    revocationReason: args.reason,
    actor: args.actor,
    context: args.context,
  });
}

const CRL_REASON: Record<RevocationReason, x509.X509CrlReason> = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
};

/** DER INTEGER for a non-negative number (the cRLNumber extension value). */
function derInteger(n: bigint): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  const body = Buffer.from(hex, 'hex');
  return new Uint8Array([0x02, body.length, ...body]);
}

/** OID of the cRLNumber extension (RFC 5280 section 5.2.3). */
const CRL_NUMBER_OID = '2.5.29.20';
let lastCrlNumber = 0n;

/**
 * Builds the current DER CRL of one CA: every certificate it issued that was revoked, or superseded by a
 * rotation, and has not yet expired. Superseded certificates are listed (reason `superseded`) so offline
 * relying parties refuse them too. The cRLNumber is the issue time in milliseconds, kept strictly increasing.
 */
export async function buildCrl(
  ctx: PkiContext,
  role: CaRole,
): Promise<{ der: ArrayBuffer; thisUpdate: Date; nextUpdate: Date; entries: number; nextOverlapEnd: Date | null }> {
  const ca: CertificateAuthority = ctx.authorities[role];
  if (!ca.signingKey)
    throw new CarapaceError(
      'ERR_PKI_CA_MISSING',
      `the ${role} CA key is not held here, so its CRL is published elsewhere`,
      { role },
    );
  const now = ctx.clock.now();
  // A certificate whose rotation overlap has ended is superseded even if nobody has presented it since.
  const rows = await ctx.db
    .selectFrom('certificates')
    .select(['serial', 'status', 'revoked_at', 'superseded_at', 'overlap_until', 'revocation_reason'])
    .where('issuer', '=', role)
    .where('not_after', '>', now.toISOString())
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['revoked', 'superseded']),
        eb.and([eb('status', '=', 'active'), eb('overlap_until', '<=', now.toISOString())]),
      ]),
    )
    .orderBy('serial')
    .execute();
  const nextUpdate = new Date(now.getTime() + ctx.settings.crlValidity * 1000);
  lastCrlNumber = BigInt(Math.max(now.getTime(), Number(lastCrlNumber) + 1));
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: ca.certificate.subject,
      thisUpdate: now,
      nextUpdate,
      signingKey: ca.signingKey,
      signingAlgorithm: CA_KEY_ALGORITHM,
      extensions: [
        await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey, false, ctx.keys.crypto),
        new x509.Extension(CRL_NUMBER_OID, false, derInteger(lastCrlNumber)),
      ],
      entries: rows.map((r) => {
        const reason = (
          r.status === 'revoked' ? (r.revocation_reason ?? 'unspecified') : 'superseded'
        ) as RevocationReason;
        return {
          serialNumber: r.serial,
          revocationDate: new Date(r.revoked_at ?? r.superseded_at ?? r.overlap_until ?? now.toISOString()),
          reason: CRL_REASON[reason] ?? x509.X509CrlReason.unspecified,
        };
      }),
    },
    ctx.keys.crypto,
  );
  const pending = await ctx.db
    .selectFrom('certificates')
    .select((eb) => eb.fn.min('overlap_until').as('next'))
    .where('issuer', '=', role)
    .where('status', '=', 'active')
    .where('overlap_until', '>', now.toISOString())
    .executeTakeFirst();
  return {
    der: crl.rawData,
    thisUpdate: now,
    nextUpdate,
    entries: rows.length,
    nextOverlapEnd: pending?.next ? new Date(pending.next) : null,
  };
}
