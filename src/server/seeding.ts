import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readScenario, type Scenario, seedScenario } from './scenario.js';
import { CarapaceError } from '../platform/index.js';
import { writePrivateFile } from '../platform/index.js';
import { findOrCreateVehicle } from '../vehicles/index.js';
import { hasUsers } from '../identity/index.js';
import type { Platform } from './platform.js';

/**
 * Loads a scenario file. Vehicles with a TCU serial get a provisioned unit whose factory credentials are
 * written under `<dataDir>/factory/<serial>`, ready for the simulator to enroll. Refused in production.
 */
export async function seedFromFile(platform: Platform, path: string): Promise<SeedResult> {
  return seedParsedScenario(platform, readScenario(path));
}

/**
 * Seeds a scenario already parsed (the demo's file, or one a drill generates): factory credentials go under
 * `<dataDir>/factory/<serial>`, partners' private JWKs under `<dataDir>/demo`. Refused in production mode.
 */
export async function seedParsedScenario(platform: Platform, scenario: Scenario): Promise<SeedResult> {
  if (platform.config.mode === 'production') {
    throw new CarapaceError(
      'ERR_FORBIDDEN',
      'production mode refuses to seed: scenario files carry demo passwords and TOTP secrets',
    );
  }
  return seedScenario(
    {
      directory: platform.directory,
      relationships: platform.relationships,
      clock: platform.clock,
      storePrivateJwk(clientId, jwk) {
        const dir = join(platform.config.dataDir, 'demo');
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const file = join(dir, `${clientId}.private.jwk.json`);
        writePrivateFile(file, JSON.stringify(jwk));
        return file;
      },
      async registerVehicle(vin, tcuSerial) {
        if (!tcuSerial) {
          return (
            await platform.storage.db
              .transaction()
              .execute((trx) => findOrCreateVehicle(trx, { vin, at: platform.clock.now() }))
          ).vehicle.id;
        }
        const issued = await platform.pki.issueFactoryCertificate({
          tcuSerial,
          csrPem: null,
          binding: { vin },
          actor: { type: 'system', id: 'seed' },
        });
        const dir = join(platform.config.dataDir, 'factory', tcuSerial);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(join(dir, 'factory-cert.pem'), issued.certificatePem);
        if (issued.privateKeyPem) writePrivateFile(join(dir, 'factory-key.pem'), issued.privateKeyPem);
        return issued.device?.vehicle_id as string;
      },
    },
    scenario,
  );
}

/** True when the directory has no users yet: the embedded first start. */
export async function directoryIsEmpty(platform: Platform): Promise<boolean> {
  return !(await hasUsers(platform.storage.db));
}

/** What seeding produced. */
export type SeedResult = Awaited<ReturnType<typeof seedScenario>>;

/** The persona table printed after seeding. Demo credentials only: production never seeds. */
export function formatPersonas(seeded: SeedResult): string {
  const rows = seeded.personas.map(
    (p) => `  ${p.email.padEnd(26)} ${p.password.padEnd(22)} ${(p.totp ?? '-').padEnd(26)} ${p.persona}`,
  );
  const partners = seeded.partners.map(
    (p) => `  ${p.clientId.padEnd(26)} private_key_jwt key: ${p.privateJwkFile} (scopes: ${p.scopes.join(' ')})`,
  );
  return [
    'Demo personas (password login; TOTP secret for MFA, add it to any authenticator app):',
    `  ${'email'.padEnd(26)} ${'password'.padEnd(22)} ${'TOTP secret'.padEnd(26)} who`,
    ...rows,
    ...(partners.length ? ['Demo partners (client credentials):', ...partners] : []),
  ].join('\n');
}
