import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { createAuditLog } from '../audit/index.js';
import { systemClock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { writePrivateFile } from '../platform/index.js';
import {
  createFileKeyProvider,
  importAuthority,
  parseRevocationReason,
  REVOCATION_REASONS,
  type VehicleBinding,
} from '../pki/index.js';
import { openStorage } from '../storage/index.js';
import { migrateDatabase } from '../server/index.js';
import { configFrom, type GlobalOptions, withPlatform } from './context.js';
import { OPERATOR_ROLES } from '../operators/index.js';

const OPERATOR = { type: 'operator' as const, id: `cli:${process.env.USER ?? 'unknown'}` };

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new CarapaceError('ERR_VALIDATION', `cannot read ${path}`, { field: path });
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `carapace pki …`: CA import, factory and operator certificates, revocation, device lifecycle, CRLs. */
export function registerPki(program: Command): void {
  const pki = program
    .command('pki')
    .description('Fleet PKI: CAs, factory and operator certificates, revocation, device lifecycle.');

  pki
    .command('import')
    .description(
      'Import a CA certificate (and optionally its PKCS#8 key) instead of generating one. Required in production.',
    )
    .addOption(new Option('--role <role>', 'which CA').choices(['root', 'fleet', 'manufacturer']).makeOptionMandatory())
    .requiredOption('--cert <file>', 'PEM CA certificate')
    .option('--key <file>', 'PEM PKCS#8 P-256 private key (omit for a manufacturer CA whose key stays at the factory)')
    .action(async (opts: { role: 'root' | 'fleet' | 'manufacturer'; cert: string; key?: string }, cmd: Command) => {
      const config = configFrom(cmd.optsWithGlobals<GlobalOptions>());
      const storage = await openStorage({
        url: config.database.url,
        schema: config.database.schema,
        dataDir: config.dataDir,
      });
      try {
        await migrateDatabase(storage.db, { schema: storage.schema });
        const ca = await importAuthority(
          {
            db: storage.db,
            keys: createFileKeyProvider(join(config.dataDir, 'pki')),
            clock: systemClock,
            audit: createAuditLog({ db: storage.db, clock: systemClock }),
          },
          opts.role,
          readText(opts.cert),
          opts.key ? readText(opts.key) : null,
        );
        print({
          imported: opts.role,
          subject: ca.certificate.subject,
          fingerprint256: ca.node.fingerprint256,
          signingKeyHeld: ca.signingKey !== null,
        });
      } finally {
        await storage.close();
      }
    });

  pki
    .command('factory-cert')
    .description(
      'Stand in for manufacturing: the manufacturer CA issues a bootstrap certificate (enrollment only) for a TCU ' +
        'serial, and the unit is provisioned for a vehicle.',
    )
    .option(
      '--serial <tcu-serial>',
      'the TCU serial burned in at the factory (default: a fresh TCU-<random>; a serial is never registered twice)',
    )
    .option('--vin <vin>', 'bind the unit to the vehicle with this VIN (created if new)')
    .option('--vehicle <id>', 'bind the unit to an existing vehicle id')
    .option('--no-register', 'only issue the certificate; do not provision a device (e.g. for a replacement unit)')
    .option(
      '--csr <file>',
      'certify the key of this PEM CSR (the real flow: the key is made in the TCU); default: generate a key',
    )
    .option('--out <dir>', 'where to write factory-cert.pem and factory-key.pem', '')
    .action(
      async (
        opts: { serial?: string; vin?: string; vehicle?: string; register: boolean; csr?: string; out: string },
        cmd: Command,
      ) => {
        const g = cmd.optsWithGlobals<GlobalOptions>();
        const config = configFrom(g);
        // A walkthrough run again must not reuse the serial of the unit it revoked last time (refused as registered).
        const serial = opts.serial ?? `TCU-${randomBytes(5).toString('hex').toUpperCase()}`;
        if (opts.vin && opts.vehicle)
          throw new CarapaceError('ERR_VALIDATION', 'give --vin or --vehicle, not both', { field: 'vin' });
        const binding: VehicleBinding | null = !opts.register
          ? null
          : opts.vehicle
            ? { vehicleId: opts.vehicle }
            : opts.vin
              ? { vin: opts.vin }
              : { newVehicle: true };
        const out = resolve(opts.out || join(config.dataDir, 'factory', serial.replace(/[^A-Za-z0-9._-]/g, '_')));
        await withPlatform(g, async (p) => {
          const issued = await p.pki.issueFactoryCertificate({
            tcuSerial: serial,
            csrPem: opts.csr ? readText(opts.csr) : null,
            binding,
            actor: OPERATOR,
          });
          mkdirSync(out, { recursive: true, mode: 0o700 });
          writeFileSync(join(out, 'factory-cert.pem'), issued.certificatePem);
          if (issued.privateKeyPem) writePrivateFile(join(out, 'factory-key.pem'), issued.privateKeyPem);
          writeFileSync(join(out, 'ca.pem'), p.pki.ctx.authorities.root.pem);
          print({
            tcuSerial: serial,
            deviceId: issued.device?.id ?? null,
            vehicleId: issued.device?.vehicle_id ?? null,
            status: issued.device?.status ?? 'not registered',
            serial: issued.serial,
            notAfter: issued.notAfter,
            files: {
              certificate: join(out, 'factory-cert.pem'),
              key: issued.privateKeyPem ? join(out, 'factory-key.pem') : '(yours: from the CSR)',
              gatewayTrustAnchor: join(out, 'ca.pem'),
            },
          });
        });
      },
    );

  pki
    .command('provision')
    .description(
      'Register a unit (by TCU serial) for a vehicle, without issuing a certificate: the production path, where ' +
        'the manufacturer issues factory certificates.',
    )
    .requiredOption('--serial <tcu-serial>', 'the TCU serial in the factory certificate')
    .option('--vin <vin>', 'the vehicle, by VIN (created if new)')
    .option('--vehicle <id>', 'the vehicle, by id')
    .action(async (opts: { serial: string; vin?: string; vehicle?: string }, cmd: Command) => {
      if (!opts.vin === !opts.vehicle)
        throw new CarapaceError('ERR_VALIDATION', 'give exactly one of --vin or --vehicle', { field: 'vin' });
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        const device = await p.pki.provisionDevice({
          tcuSerial: opts.serial,
          binding: opts.vehicle ? { vehicleId: opts.vehicle } : { vin: opts.vin as string },
          actor: OPERATOR,
        });
        print({
          tcuSerial: device.factory_serial,
          deviceId: device.id,
          vehicleId: device.vehicle_id,
          status: device.status,
        });
      });
    });

  pki
    .command('operator-cert')
    .description('Issue an admin-plane operator certificate from the root CA.')
    .requiredOption('--name <name>', 'operator name (lowercase)')
    .addOption(
      new Option('--role <role>', 'the one operator role it is bound to')
        .choices([...OPERATOR_ROLES])
        .makeOptionMandatory(),
    )
    .option('--csr <file>', 'certify the key of this PEM CSR; default: generate a key')
    .option('--out <dir>', 'where to write <name>-cert.pem and <name>-key.pem', '.')
    .action(async (opts: { name: string; role: string; csr?: string; out: string }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        const issued = await p.pki.issueOperatorCertificate({
          name: opts.name,
          csrPem: opts.csr ? readText(opts.csr) : null,
          actor: OPERATOR,
        });
        await p.operators.directory.bindCertificate(OPERATOR, {
          name: opts.name,
          serial: issued.serial,
          role: opts.role,
        });
        mkdirSync(opts.out, { recursive: true, mode: 0o700 });
        const certFile = join(opts.out, `${opts.name}-cert.pem`);
        writeFileSync(certFile, issued.certificatePem);
        if (issued.privateKeyPem) writePrivateFile(join(opts.out, `${opts.name}-key.pem`), issued.privateKeyPem);
        print({
          operator: opts.name,
          role: opts.role,
          serial: issued.serial,
          notAfter: issued.notAfter,
          certificate: resolve(certFile),
        });
      });
    });

  pki
    .command('revoke')
    .description(
      'Revoke a certificate by serial, or a device with all its certificates. Running servers apply it within the ' +
        'revocation poll interval, or at once with Redis.',
    )
    .option('--serial <hex>', 'certificate serial (hex, colons allowed)')
    .option('--device <id>', 'device id')
    .addOption(
      new Option('--reason <code>', 'RFC 5280 reason code').choices([...REVOCATION_REASONS]).default('unspecified'),
    )
    .action(async (opts: { serial?: string; device?: string; reason: string }, cmd: Command) => {
      if (!opts.serial === !opts.device)
        throw new CarapaceError('ERR_VALIDATION', 'give exactly one of --serial or --device', { field: 'serial' });
      const reason = parseRevocationReason(opts.reason);
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        const result = opts.serial
          ? await p.pki.revokeCertificate({ serial: opts.serial, reason, actor: OPERATOR, context: null })
          : await p.pki
              .revokeDevice({ deviceId: opts.device as string, reason, actor: OPERATOR, context: null })
              .then((r) => ({ revokedSerials: r.revokedSerials, deviceId: r.device.id }));
        print(result);
      });
    });

  pki
    .command('device-status')
    .description('Move a device through its lifecycle: active, quarantined, revoked, decommissioned.')
    .requiredOption('--device <id>', 'device id')
    .addOption(
      new Option('--status <status>', 'target state')
        .choices(['active', 'quarantined', 'revoked', 'decommissioned'])
        .makeOptionMandatory(),
    )
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .action(
      async (
        opts: { device: string; status: 'active' | 'quarantined' | 'revoked' | 'decommissioned'; reason: string },
        cmd: Command,
      ) => {
        await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
          const r = await p.pki.changeDeviceStatus({
            deviceId: opts.device,
            to: opts.status,
            reason: opts.reason,
            actor: OPERATOR,
            context: null,
          });
          print({ deviceId: r.device.id, status: r.device.status, revokedSerials: r.revokedSerials });
        });
      },
    );

  pki
    .command('replace')
    .description('Replacement flow: decommission a unit and provision a new unit (by TCU serial) for the same vehicle.')
    .requiredOption('--device <id>', 'the unit being replaced')
    .requiredOption('--serial <tcu-serial>', 'TCU serial of the new unit')
    .option('--reason <text>', 'why', 'unit replaced')
    .action(async (opts: { device: string; serial: string; reason: string }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        const r = await p.pki.replaceDevice({
          deviceId: opts.device,
          newTcuSerial: opts.serial,
          reason: opts.reason,
          actor: OPERATOR,
          context: null,
        });
        print({
          decommissioned: r.old.id,
          replacement: {
            deviceId: r.replacement.id,
            tcuSerial: r.replacement.factory_serial,
            vehicleId: r.replacement.vehicle_id,
            status: r.replacement.status,
          },
        });
      });
    });

  pki
    .command('crl')
    .description('Write the current CRL of a CA (DER) to a file or stdout.')
    .addOption(new Option('--ca <role>', 'which CA').choices(['root', 'fleet', 'manufacturer']).default('fleet'))
    .option('--out <file>', 'output file (default: stdout)')
    .action(async (opts: { ca: 'root' | 'fleet' | 'manufacturer'; out?: string }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        const der = Buffer.from(await p.pki.crl(opts.ca));
        if (opts.out) writeFileSync(opts.out, der);
        else process.stdout.write(der);
      });
    });
}
