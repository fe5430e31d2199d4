/**
 * A device sending signed telemetry with the vehicle SDK, end to end. Usage, with `npm start` running:
 *
 *   npx carapace pki factory-cert --serial TCU-0001 --vin 1HGCM82633A004352 --out factory
 *   node --import tsx scripts/send-telemetry.ts factory
 *
 * The first run enrolls the unit with its factory certificate and keeps the operational credentials
 * (`<dir>/device.json`, mode 0600) and the sequence high-water mark (`<dir>/telemetry.seq`) for the next
 * runs, as a device would across restarts. Each run sends a batch, sends the same batch again (all
 * duplicates), sends a forged and a skewed message (rejected), and prints the vehicle's state as the admin
 * plane sees it.
 *
 * The gateway, the admin plane, the CA and the development operator certificate come from the same configuration
 * the server runs with (`CARAPACE_GATEWAY_PORT`, `CARAPACE_ADMIN_PORT`, `CARAPACE_DATA_DIR`, a `--config` file…).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FileSequenceStore,
  GatewayClient,
  httpsRequest,
  type StoredCredentials,
  TelemetrySigner,
} from 'carapace/vehicle-sdk';
import { demoTarget } from './demo-target.js';

const target = demoTarget();
const dir = target.args[0];
if (!dir) {
  process.stderr.write('usage: node --import tsx scripts/send-telemetry.ts <factory directory> [--config …]\n');
  process.exit(2);
}
const { ca, endpoints } = target;
const device = new GatewayClient({ gatewayUrl: endpoints.gateway, ca });
const saved = join(dir, 'device.json');
if (existsSync(saved)) {
  await device.resume(JSON.parse(readFileSync(saved, 'utf8')) as StoredCredentials);
} else {
  await device.enroll({
    cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
    key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
  });
  writeFileSync(saved, JSON.stringify(device.stored()), { mode: 0o600 });
}
const { issued } = device.credentials!;
process.stdout.write(`device ${issued.deviceId} of vehicle ${issued.vehicleId}\n`);

const signer = new TelemetrySigner({
  identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: '4.2.0', configId: 'demo-1' },
  privateKeyPem: device.credentials!.key.privateKeyPem,
  sequences: new FileSequenceStore(join(dir, 'telemetry.seq')),
});
const batch = [
  await signer.sign({ kind: 'speed', kmh: 0 }),
  await signer.sign({ kind: 'gear', gear: 'P' }),
  await signer.sign({ kind: 'doors', locked: true, open: [] }),
  await signer.sign({ kind: 'position', lat: 48.1374, lon: 11.5755 }),
  await signer.sign({ kind: 'battery', socPercent: 76, charging: true, plugged: true }),
  await signer.sign({ kind: 'odometer', km: 12_345.6 }),
].map(({ signed, sig }) => ({ signed, sig }));
const show = (label: string, r: Awaited<ReturnType<GatewayClient['sendTelemetry']>>) =>
  process.stdout.write(
    `${label}: accepted ${r.accepted}, duplicates ${r.duplicates}, rejected ${r.rejected} ${JSON.stringify(r.verdicts.filter((v) => v.verdict === 'rejected').map((v) => v.reason))}\n`,
  );

show('batch', await device.sendTelemetry(batch));
show('same batch again', await device.sendTelemetry(batch));
const forged = await signer.sign({ kind: 'speed', kmh: 120 });
const skewed = await signer.sign({ kind: 'speed', kmh: 30 }, { ts: Date.now() - 600_000 });
show(
  'forged and skewed',
  await device.sendTelemetry([{ signed: forged.signed.replace('120', '12'), sig: forged.sig }, skewed]),
);

const state = await httpsRequest(`${endpoints.admin}/admin/v1/vehicles/${issued.vehicleId}/state`, {
  ca,
  cert: readFileSync(endpoints.operatorCertFile, 'utf8'),
  key: readFileSync(endpoints.operatorKeyFile, 'utf8'),
});
process.stdout.write(`vehicle state (admin plane) -> ${state.status}\n${JSON.stringify(state.json, null, 2)}\n`);
device.close();
