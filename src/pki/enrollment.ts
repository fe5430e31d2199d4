import type { Kysely } from 'kysely';
import { type RequestContext, untrusted } from '../audit/index.js';
import { CarapaceError, isCarapaceError } from '../platform/index.js';
import { isUniqueViolation } from '../storage/index.js';
import type { Database } from '../storage/index.js';
import { announce, type PkiContext } from './context.js';
import type { EnrollmentResult } from '../wire/index.js';
import type { CredentialChange } from './revocation-cache.js';
import { type VerifiedCsr, verifyCsr } from './csr.js';
import type { DeviceRow } from './tables.js';

/**
 * The certificate part of what an enrolled or rotated device receives (the wire contract in
 * src/wire/enrollment.ts); the gateway adds the command-verification keys, which the commands module owns.
 */
export type CertificateBundle = Omit<EnrollmentResult, 'commandVerificationKeys'>;

/** The factory certificate presented for enrollment, as the gateway authenticated it. */
export interface PresentedFactoryCertificate {
  serial: string;
  tcuSerial: string;
  spkiSha256: string;
}

/** The operational certificate presented for rotation. */
export interface PresentedOperationalCertificate {
  serial: string;
  deviceId: string;
  spkiSha256: string;
}

async function assertFreshKey(db: Kysely<Database>, csr: VerifiedCsr, presentedSpki: string): Promise<void> {
  // A new certificate must certify a new key: reusing the factory key or an earlier key would let a leaked
  // key outlive the certificate that was meant to retire it.
  const reused =
    csr.spkiSha256 === presentedSpki ||
    (await db.selectFrom('certificates').select('serial').where('spki_sha256', '=', csr.spkiSha256).executeTakeFirst());
  if (reused)
    throw new CarapaceError('ERR_PKI_KEY_REUSED', 'the CSR key has been certified before; generate a new key pair', {
      reason: 'key_reused',
    });
}

async function bundle(
  ctx: PkiContext,
  device: Pick<DeviceRow, 'id' | 'vehicle_id'>,
  issued: { pem: string; facts: { serial: string; notBefore: Date; notAfter: Date } },
): Promise<CertificateBundle> {
  return {
    deviceId: device.id,
    vehicleId: device.vehicle_id,
    serial: issued.facts.serial,
    certificate: issued.pem,
    chain: [ctx.authorities.fleet.pem, ctx.authorities.root.pem],
    notBefore: issued.facts.notBefore.toISOString(),
    notAfter: issued.facts.notAfter.toISOString(),
  };
}

function validity(ctx: PkiContext): { now: Date; notBefore: Date; notAfter: Date } {
  const now = ctx.clock.now();
  // Backdated a minute so a device whose clock runs slightly behind accepts its certificate at once.
  return {
    now,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + ctx.settings.operationalCertTtl * 1000),
  };
}

/** A concurrent request certified the same key first: the database's unique index is the final word. */
function keyReuseFromConstraint(err: unknown): unknown {
  return isUniqueViolation(err, 'spki')
    ? new CarapaceError(
        'ERR_PKI_KEY_REUSED',
        'the CSR key has been certified before; generate a new key pair',
        { reason: 'key_reused' },
        { cause: err },
      )
    : err;
}

async function auditRefusal(
  ctx: PkiContext,
  type: 'pki.enrollment.refused' | 'pki.rotation.refused',
  err: unknown,
  actorId: string,
  details: Record<string, string | null>,
  context: RequestContext | null,
): Promise<void> {
  if (!isCarapaceError(err)) return;
  const extra: Record<string, string> = {};
  if (typeof err.context.auditReason === 'string') extra.cause = err.context.auditReason;
  if (typeof err.context.reason === 'string') extra.failure = err.context.reason;
  await ctx.audit
    .append(ctx.db, {
      type,
      actor: { type: 'device', id: untrusted(actorId, 64) },
      object: { type: 'device', id: (err.context.deviceId as string | undefined) ?? details.deviceId ?? null },
      action: type.endsWith('enrollment.refused') ? 'enroll' : 'rotate',
      decision: 'deny',
      reason: err.code,
      context,
      details: { ...details, ...extra, message: err.message },
    })
    .catch((auditErr: unknown) => ctx.log.error({ err: auditErr }, 'could not audit a refused enrollment or rotation'));
}

/**
 * Enrollment: a provisioned unit, authenticated by its factory certificate, exchanges a CSR for a key it
 * generated itself for a short-lived operational certificate bound to its vehicle.
 */
export async function enroll(
  ctx: PkiContext,
  args: {
    presented: PresentedFactoryCertificate;
    csr: string | Uint8Array;
    requestedDeviceId: string | null;
    context: RequestContext | null;
  },
): Promise<CertificateBundle> {
  const { presented } = args;
  try {
    const csr = await verifyCsr(args.csr);
    const device = await ctx.db
      .selectFrom('devices')
      .selectAll()
      .where('factory_serial', '=', presented.tcuSerial)
      .executeTakeFirst();
    if (args.requestedDeviceId && args.requestedDeviceId !== device?.id) {
      // One answer whether the named device exists or not, so a factory certificate is no oracle for device
      // ids; the audit event keeps the difference.
      const named = await ctx.db
        .selectFrom('devices')
        .select(['status'])
        .where('id', '=', args.requestedDeviceId)
        .executeTakeFirst();
      throw new CarapaceError(
        'ERR_PKI_DEVICE_ID_CONFLICT',
        'this unit cannot enroll under that device id; a replaced unit goes through the replacement flow',
        {
          deviceId: args.requestedDeviceId,
          auditReason: named ? `device_id_${named.status}_with_another_unit` : 'device_id_unknown',
        },
      );
    }
    if (!device)
      throw new CarapaceError(
        'ERR_PKI_DEVICE_NOT_PROVISIONED',
        "no device is provisioned for this unit's TCU serial",
        {},
      );
    if (device.status !== 'provisioned') {
      throw device.status === 'active'
        ? new CarapaceError(
            'ERR_PKI_DEVICE_ALREADY_ENROLLED',
            'this unit is already enrolled; renew with the operational certificate',
            { deviceId: device.id },
          )
        : new CarapaceError('ERR_DEVICE_NOT_ACTIVE', `this unit is ${device.status}`, { deviceId: device.id });
    }
    await assertFreshKey(ctx.db, csr, presented.spkiSha256);
    const { now, notBefore, notAfter } = validity(ctx);
    const issued = await ctx.db.transaction().execute(async (trx) => {
      // Conditional on 'provisioned': of two concurrent enrollments, exactly one wins.
      const claimed = await trx
        .updateTable('devices')
        .set({
          status: 'active',
          enrolled_at: now.toISOString(),
          updated_at: now.toISOString(),
          status_reason: 'enrolled',
        })
        .where('id', '=', device.id)
        .where('status', '=', 'provisioned')
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1)
        throw new CarapaceError('ERR_PKI_DEVICE_ALREADY_ENROLLED', 'this unit was enrolled concurrently', {
          deviceId: device.id,
        });
      const cert = await ctx.issuer.issue(
        trx,
        {
          subject: { profile: 'operational', deviceId: device.id, vehicleId: device.vehicle_id },
          publicKey: csr.publicKey,
          notBefore,
          notAfter,
          deviceId: device.id,
        },
        now,
      );
      await ctx.audit.append(trx, {
        type: 'pki.device.enrolled',
        actor: { type: 'device', id: device.id },
        object: { type: 'device', id: device.id },
        action: 'enroll',
        decision: 'allow',
        context: args.context,
        details: {
          vehicleId: device.vehicle_id,
          factoryCertSerial: presented.serial,
          tcuSerial: untrusted(presented.tcuSerial, 64),
          serial: cert.facts.serial,
          thumbprint: cert.facts.thumbprint,
          keyType: csr.keyType,
          notAfter: cert.facts.notAfter.toISOString(),
        },
      });
      return cert;
    });
    await announce(ctx, [{ kind: 'device-status', deviceId: device.id, status: 'active' }]);
    return bundle(ctx, device, issued);
  } catch (caught) {
    const err = keyReuseFromConstraint(caught);
    await auditRefusal(
      ctx,
      'pki.enrollment.refused',
      err,
      presented.tcuSerial,
      { factoryCertSerial: presented.serial, deviceId: args.requestedDeviceId },
      args.context,
    );
    throw err;
  }
}

/**
 * Rotation: an active device renews with its current operational certificate. The old certificate stays
 * usable until the new one is first used or the overlap window ends, whichever comes first.
 */
export async function rotate(
  ctx: PkiContext,
  args: { presented: PresentedOperationalCertificate; csr: string | Uint8Array; context: RequestContext | null },
): Promise<CertificateBundle> {
  const { presented } = args;
  try {
    const csr = await verifyCsr(args.csr);
    await assertFreshKey(ctx.db, csr, presented.spkiSha256);
    const { now, notBefore, notAfter } = validity(ctx);
    const overlapUntil = new Date(now.getTime() + ctx.settings.rotationOverlap * 1000).toISOString();
    const result = await ctx.db.transaction().execute(async (trx) => {
      const device = await trx
        .selectFrom('devices')
        .selectAll()
        .where('id', '=', presented.deviceId)
        .executeTakeFirstOrThrow();
      const current = await trx
        .selectFrom('certificates')
        .selectAll()
        .where('serial', '=', presented.serial)
        .executeTakeFirstOrThrow();
      if (current.status !== 'active')
        throw new CarapaceError('ERR_CLIENT_CERT_SUPERSEDED', 'only the current certificate can renew', {
          deviceId: device.id,
        });
      // A successor that was never used (its response was lost) is retired: at most one pending successor.
      const unused = await trx
        .selectFrom('certificates')
        .select('serial')
        .where('predecessor_serial', '=', current.serial)
        .where('status', '=', 'active')
        .where('first_used_at', 'is', null)
        .execute();
      if (unused.length > 0) {
        await trx
          .updateTable('certificates')
          .set({ status: 'superseded', superseded_at: now.toISOString() })
          .where(
            'serial',
            'in',
            unused.map((u) => u.serial),
          )
          .execute();
      }
      const until =
        current.overlap_until && current.overlap_until < overlapUntil ? current.overlap_until : overlapUntil;
      await trx
        .updateTable('certificates')
        .set({ overlap_until: until })
        .where('serial', '=', current.serial)
        .execute();
      const cert = await ctx.issuer.issue(
        trx,
        {
          subject: { profile: 'operational', deviceId: device.id, vehicleId: device.vehicle_id },
          publicKey: csr.publicKey,
          notBefore,
          notAfter,
          deviceId: device.id,
          predecessorSerial: current.serial,
        },
        now,
      );
      await ctx.audit.append(trx, {
        type: 'pki.certificate.rotated',
        actor: { type: 'device', id: device.id },
        object: { type: 'device', id: device.id },
        action: 'rotate',
        decision: 'allow',
        context: args.context,
        details: {
          previousSerial: current.serial,
          serial: cert.facts.serial,
          thumbprint: cert.facts.thumbprint,
          overlapUntil: until,
          retiredUnusedSerials: unused.map((u) => u.serial),
          keyType: csr.keyType,
        },
      });
      return { device, cert, until, unused: unused.map((u) => u.serial) };
    });
    await announce(ctx, [
      { kind: 'overlap-started', serial: presented.serial, until: result.until },
      ...(result.unused.length > 0 ? [{ kind: 'certificates-superseded' as const, serials: result.unused }] : []),
    ]);
    return bundle(ctx, result.device, result.cert);
  } catch (caught) {
    const err = keyReuseFromConstraint(caught);
    await auditRefusal(
      ctx,
      'pki.rotation.refused',
      err,
      presented.deviceId,
      { serial: presented.serial, deviceId: presented.deviceId },
      args.context,
    );
    throw err;
  }
}

/**
 * Called when a rotated certificate is used for the first time: the predecessor is superseded at once.
 * Idempotent and race-safe: only the first use updates anything.
 */
export async function markFirstUse(ctx: PkiContext, serial: string, context: RequestContext | null): Promise<void> {
  const now = ctx.clock.now().toISOString();
  const superseded = await ctx.db.transaction().execute(async (trx) => {
    const first = await trx
      .updateTable('certificates')
      .set({ first_used_at: now })
      .where('serial', '=', serial)
      .where('first_used_at', 'is', null)
      .executeTakeFirst();
    if (Number(first.numUpdatedRows) !== 1) return null;
    const row = await trx
      .selectFrom('certificates')
      .select(['predecessor_serial', 'device_id'])
      .where('serial', '=', serial)
      .executeTakeFirstOrThrow();
    if (!row.predecessor_serial) return null;
    const done = await trx
      .updateTable('certificates')
      .set({ status: 'superseded', overlap_until: null, superseded_at: now })
      .where('serial', '=', row.predecessor_serial)
      .where('status', '=', 'active')
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) !== 1) return null;
    await ctx.audit.append(trx, {
      type: 'pki.certificate.superseded',
      actor: { type: 'device', id: row.device_id },
      object: { type: 'certificate', id: row.predecessor_serial },
      action: 'supersede',
      decision: 'info',
      reason: 'successor_used',
      context,
      details: { successorSerial: serial, deviceId: row.device_id },
    });
    return row.predecessor_serial;
  });
  if (superseded) await announce(ctx, [{ kind: 'certificates-superseded', serials: [superseded] }]);
}

/**
 * Marks a predecessor superseded once its overlap window has passed (found lazily on use). Returns the change
 * for the caller to announce once its own response is out, since announcing closes the certificate's connections.
 */
export async function expireOverlap(
  ctx: PkiContext,
  serial: string,
  context: RequestContext | null,
): Promise<CredentialChange | null> {
  const done = await ctx.db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('certificates')
      .set({ status: 'superseded', superseded_at: ctx.clock.now().toISOString() })
      .where('serial', '=', serial)
      .where('status', '=', 'active')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    await ctx.audit.append(trx, {
      type: 'pki.certificate.superseded',
      actor: { type: 'system' },
      object: { type: 'certificate', id: serial },
      action: 'supersede',
      decision: 'info',
      reason: 'overlap_ended',
      context,
    });
    return true;
  });
  return done ? { kind: 'certificates-superseded', serials: [serial] } : null;
}
