import { webcrypto } from 'node:crypto';
import { x509 } from '../platform/index.js';
import type { Kysely } from 'kysely';
import { type DetailValue, type RequestContext, untrusted } from '../audit/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { announce, type PkiContext } from './context.js';
import { verifyCsr } from './csr.js';
import { type ChangeActor, getDevice, transitionDevice } from './devices.js';
import type { LeafSubject } from './profiles.js';
import type { DeviceRow } from './tables.js';

const TCU_SERIAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const OPERATOR_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const LEAF_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** Where a newly provisioned unit belongs. */
export type VehicleBinding = { vehicleId: string } | { vin: string } | { newVehicle: true };

/** A leaf certificate and, when Carapace generated the key, the key (returned once, never stored). */
export interface IssuedWithKey {
  certificatePem: string;
  serial: string;
  thumbprint: string;
  notAfter: string;
  privateKeyPem: string | null;
}

function assertTcuSerial(serial: string): void {
  if (!TCU_SERIAL.test(serial)) {
    throw new CarapaceError('ERR_VALIDATION', 'a TCU serial is 1-64 characters of letters, digits, ".", "_" and "-"', {
      field: 'serial',
    });
  }
}

/** Either verifies a supplied CSR or generates a P-256 key pair for the caller. */
async function subjectKey(
  csrPem: string | null,
): Promise<{ publicKey: x509.PublicKey | webcrypto.CryptoKey; privateKeyPem: string | null }> {
  if (csrPem) return { publicKey: (await verifyCsr(csrPem)).publicKey, privateKeyPem: null };
  const pair = await webcrypto.subtle.generateKey(LEAF_KEY, true, ['sign', 'verify']);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', pair.privateKey);
  return { publicKey: pair.publicKey, privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/**
 * Issues a leaf valid from a minute ago for `ttlSeconds`, records it and its `<profile>_cert.issued` audit
 * event in `trx`, and returns it with the generated key (if any).
 */
async function issueRecorded(
  ctx: PkiContext,
  trx: Kysely<Database>,
  args: {
    subject: LeafSubject;
    key: { publicKey: x509.PublicKey | webcrypto.CryptoKey; privateKeyPem: string | null };
    ttlSeconds: number;
    actor: ChangeActor;
    details: Record<string, DetailValue>;
  },
): Promise<IssuedWithKey> {
  const now = ctx.clock.now();
  const issued = await ctx.issuer.issue(
    trx,
    {
      subject: args.subject,
      publicKey: args.key.publicKey,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + args.ttlSeconds * 1000),
    },
    now,
  );
  const facts = {
    serial: issued.facts.serial,
    thumbprint: issued.facts.thumbprint,
    notAfter: issued.facts.notAfter.toISOString(),
  };
  await ctx.audit.append(trx, {
    type: `pki.${args.subject.profile}_cert.issued`,
    actor: args.actor,
    object: { type: 'certificate', id: facts.serial },
    action: 'issue',
    decision: 'info',
    details: { ...args.details, ...facts, keyGeneratedByCarapace: args.key.privateKeyPem !== null },
  });
  return { certificatePem: issued.pem, ...facts, privateKeyPem: args.key.privateKeyPem };
}

async function provisionInTrx(
  ctx: PkiContext,
  trx: Kysely<Database>,
  args: {
    tcuSerial: string;
    binding: VehicleBinding;
    replaces: string | null;
    actor: ChangeActor;
    context: RequestContext | null;
  },
): Promise<DeviceRow> {
  const at = ctx.clock.now();
  const taken = await trx
    .selectFrom('devices')
    .select(['id', 'status'])
    .where('factory_serial', '=', args.tcuSerial)
    .executeTakeFirst();
  if (taken) {
    throw new CarapaceError(
      'ERR_PKI_SERIAL_IN_USE',
      `TCU serial ${args.tcuSerial} is already registered to a device (${taken.status})`,
      { deviceId: taken.id },
    );
  }
  const vehicle =
    'vehicleId' in args.binding
      ? await ctx.vehicles.get(trx, args.binding.vehicleId)
      : (await ctx.vehicles.findOrCreate(trx, { vin: 'vin' in args.binding ? args.binding.vin : null, at })).vehicle;
  const active = await trx
    .selectFrom('devices')
    .select('id')
    .where('vehicle_id', '=', vehicle.id)
    .where('status', 'in', ['provisioned', 'active', 'quarantined'])
    .executeTakeFirst();
  if (active && active.id !== args.replaces) {
    throw new CarapaceError(
      'ERR_CONFLICT',
      'the vehicle already has a unit in service; replace it with `carapace pki replace`',
      { vehicleId: vehicle.id, deviceId: active.id },
    );
  }
  const device: DeviceRow = {
    id: newId(),
    vehicle_id: vehicle.id,
    factory_serial: args.tcuSerial,
    status: 'provisioned',
    status_reason: null,
    created_at: at.toISOString(),
    updated_at: at.toISOString(),
    enrolled_at: null,
    replaces: args.replaces,
    replaced_by: null,
  };
  await trx.insertInto('devices').values(device).execute();
  await ctx.audit.append(trx, {
    type: 'pki.device.provisioned',
    actor: args.actor,
    object: { type: 'device', id: device.id },
    action: 'provision',
    decision: 'info',
    context: args.context,
    details: { tcuSerial: untrusted(args.tcuSerial, 64), vehicleId: vehicle.id, replaces: args.replaces },
  });
  return device;
}

/**
 * Registers a unit for a vehicle without issuing anything: the production path, where the manufacturer's CA
 * issues the factory certificate at the factory and Carapace learns the TCU serial from the manufacturing feed.
 */
export async function provisionDevice(
  ctx: PkiContext,
  args: { tcuSerial: string; binding: VehicleBinding; actor: ChangeActor },
): Promise<DeviceRow> {
  assertTcuSerial(args.tcuSerial);
  return ctx.db.transaction().execute((trx) =>
    provisionInTrx(ctx, trx, {
      tcuSerial: args.tcuSerial,
      binding: args.binding,
      replaces: null,
      actor: args.actor,
      context: null,
    }),
  );
}

/**
 * Stands in for manufacturing: the manufacturer CA issues a factory (bootstrap) certificate for a TCU serial,
 * good for enrollment only. Unless `binding` is null, the unit is also registered as a provisioned device
 * bound to a vehicle, ready to enroll.
 */
export async function issueFactoryCertificate(
  ctx: PkiContext,
  args: { tcuSerial: string; csrPem: string | null; binding: VehicleBinding | null; actor: ChangeActor },
): Promise<IssuedWithKey & { device: DeviceRow | null }> {
  assertTcuSerial(args.tcuSerial);
  const key = await subjectKey(args.csrPem);
  return ctx.db.transaction().execute(async (trx) => {
    const device = args.binding
      ? await provisionInTrx(ctx, trx, {
          tcuSerial: args.tcuSerial,
          binding: args.binding,
          replaces: null,
          actor: args.actor,
          context: null,
        })
      : null;
    const issued = await issueRecorded(ctx, trx, {
      subject: { profile: 'factory', tcuSerial: args.tcuSerial },
      key,
      ttlSeconds: ctx.settings.factoryCertTtl,
      actor: args.actor,
      details: { tcuSerial: untrusted(args.tcuSerial, 64), deviceId: device?.id ?? null },
    });
    return { ...issued, device };
  });
}

/**
 * The replacement flow: the old unit is decommissioned (its certificates revoked) and a new unit, identified
 * by its TCU serial, is provisioned for the same vehicle. The new unit then enrolls with its own factory
 * certificate.
 */
export async function replaceDevice(
  ctx: PkiContext,
  args: { deviceId: string; newTcuSerial: string; reason: string; actor: ChangeActor; context: RequestContext | null },
): Promise<{ old: DeviceRow; replacement: DeviceRow }> {
  assertTcuSerial(args.newTcuSerial);
  args = { ...args, reason: untrusted(args.reason, 500) };
  const at = ctx.clock.now();
  const result = await ctx.db.transaction().execute(async (trx) => {
    const old = await getDevice(trx, args.deviceId);
    const { revoked } = await transitionDevice(trx, ctx.audit, {
      deviceId: old.id,
      to: 'decommissioned',
      reason: `replaced: ${args.reason}`,
      actor: args.actor,
      at,
      context: args.context,
    });
    const replacement = await provisionInTrx(ctx, trx, {
      tcuSerial: args.newTcuSerial,
      binding: { vehicleId: old.vehicle_id },
      replaces: old.id,
      actor: args.actor,
      context: args.context,
    });
    await trx.updateTable('devices').set({ replaced_by: replacement.id }).where('id', '=', old.id).execute();
    await ctx.audit.append(trx, {
      type: 'pki.device.replaced',
      actor: args.actor,
      object: { type: 'vehicle', id: old.vehicle_id },
      action: 'replace',
      decision: 'allow',
      reason: args.reason,
      context: args.context,
      details: { oldDeviceId: old.id, newDeviceId: replacement.id, newTcuSerial: untrusted(args.newTcuSerial, 64) },
    });
    return { old: { ...old, status: 'decommissioned' as const, replaced_by: replacement.id }, replacement, revoked };
  });
  await announce(ctx, [
    { kind: 'certificates-revoked', serials: result.revoked.map((r) => r.serial), deviceIds: [result.old.id] },
    { kind: 'device-status', deviceId: result.old.id, status: 'decommissioned' },
  ]);
  return { old: result.old, replacement: result.replacement };
}

/** Issues an admin-plane operator certificate from the root CA. */
export async function issueOperatorCertificate(
  ctx: PkiContext,
  args: { name: string; csrPem: string | null; actor: ChangeActor },
): Promise<IssuedWithKey> {
  if (!OPERATOR_NAME.test(args.name)) {
    throw new CarapaceError('ERR_VALIDATION', 'an operator name is 1-64 lowercase letters, digits, ".", "_" and "-"', {
      field: 'name',
    });
  }
  const key = await subjectKey(args.csrPem);
  return ctx.db.transaction().execute((trx) =>
    issueRecorded(ctx, trx, {
      subject: { profile: 'operator', operatorName: args.name },
      key,
      ttlSeconds: ctx.settings.operatorCertTtl,
      actor: args.actor,
      details: { operator: args.name },
    }),
  );
}

/** Issues the development server certificate for all listeners from the root CA. */
export async function issueServerCertificate(
  ctx: PkiContext,
  hostnames: string[],
  validityDays: number,
): Promise<IssuedWithKey> {
  const key = await subjectKey(null);
  return ctx.db.transaction().execute((trx) =>
    issueRecorded(ctx, trx, {
      subject: { profile: 'server', hostnames },
      key,
      ttlSeconds: validityDays * 86400,
      actor: { type: 'system', id: null },
      details: { hostnames },
    }),
  );
}
