import { DEMO_OPERATORS } from '../src/operators/index.js';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { DEMO_SCENARIO } from '../src/server/index.js';
import { seedFromFile } from '../src/server/index.js';
import { startTestCarapace, testEngines } from '../src/testing/index.js';
import { GatewayClient } from '../src/vehicle-sdk/index.js';
import { readFileSync, statSync } from 'node:fs';
import { decodeJwt, type JWK } from 'jose';
import { clientCredentialsToken } from '../src/client/index.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

describe.each(testEngines())('demo seeding (%s)', (database) => {
  it('seeds an empty development database at start and provisions the demo vehicles ready to enroll', async () => {
    const cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    try {
      expect(cp.seeded!.personas.map((p) => p.email)).toContain('alice@example.com');
      expect(cp.seeded!.personas.find((p) => p.key === 'sean')?.roles).toEqual(['security_admin@carapace-motors']);
      const factory = join(cp.config.dataDir, 'factory', 'TCU-DEMO-0001');
      const device = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
      const { issued } = await device.enroll({
        cert: readFileSync(join(factory, 'factory-cert.pem'), 'utf8'),
        key: readFileSync(join(factory, 'factory-key.pem'), 'utf8'),
      });
      const vehicle = await cp.platform.storage.db
        .selectFrom('vehicles')
        .select('vin')
        .where('id', '=', issued.vehicleId)
        .executeTakeFirstOrThrow();
      expect(vehicle.vin).toBe('5YJ3E1EA7KF000001');
      device.close();
      // The personas, and the demo's operators (one per role, README "Operators and roles").
      expect(await cp.platform.audit.list({ type: 'identity.user.created', limit: 100 })).toHaveLength(
        cp.seeded!.personas.length + DEMO_OPERATORS.length,
      );
      expect(
        (await cp.platform.operators.directory.list()).filter((o) => o.kind === 'person').map((o) => o.roles),
      ).toEqual([['pki_officer'], ['responder'], ['security_admin'], ['viewer']]);
      // The relationships the personas need, with their history: a former owner, an expiring delegation, cases.
      const rel = cp.platform.relationships;
      const id = async (email: string) => (await cp.platform.directory.findUserByEmail(email))!.id;
      const vehicleByVin = async (vin: string) =>
        (
          await cp.platform.storage.db
            .selectFrom('vehicles')
            .select('id')
            .where('vin', '=', vin)
            .executeTakeFirstOrThrow()
        ).id;
      const frankOld = await vehicleByVin('5YJ3E1EA7KF000003');
      expect(await rel.inForce({ userId: await id('frank@example.com'), kind: 'ownership' })).toHaveLength(0);
      expect((await rel.inForce({ vehicleId: frankOld, kind: 'ownership' })).map((r) => r.user_id)).toEqual([
        await id('bob@example.com'),
      ]);
      const frankHistory = await cp.platform.storage.db
        .selectFrom('relationships')
        .selectAll()
        .where('user_id', '=', await id('frank@example.com'))
        .executeTakeFirstOrThrow();
      expect(frankHistory).toMatchObject({ end_reason: 'ownership transferred to Bob', ended_by: 'system:seed' });
      const [delegation] = await rel.inForce({ userId: await id('dana@example.com'), kind: 'delegation' });
      expect(JSON.parse(delegation!.attributes)).toEqual({ commands: ['lock', 'unlock', 'climate', 'horn_lights'] });
      expect(delegation!.granted_by).toBe(`user:${await id('alice@example.com')}`);
      expect(
        await rel.inForce(
          { userId: await id('dana@example.com'), kind: 'delegation' },
          new Date(Date.now() + 6 * 86400_000),
        ),
      ).toHaveLength(0);
      const dealer = (
        await cp.platform.storage.db
          .selectFrom('tenants')
          .select('id')
          .where('kind', '=', 'dealer')
          .executeTakeFirstOrThrow()
      ).id;
      expect(await rel.inForce({ tenantId: dealer, kind: 'service_case' })).toHaveLength(1);
      expect(await rel.inForce({ userId: await id('sam@carapace.example'), kind: 'support_case' })).toHaveLength(1);
      expect(await rel.inForce({ userId: await id('sue@carapace.example') })).toHaveLength(0);
      expect(await rel.inForce({ applicationId: 'chargenet-charging', kind: 'partner_grant' })).toHaveLength(1);
      // The demo partners sign in with their generated keys, and only for their own scopes.
      const charge = cp.seeded!.partners.find((p) => p.clientId === 'chargenet-charging')!;
      expect(statSync(charge.privateJwkFile).mode & 0o777).toBe(0o600);
      const privateJwk = JSON.parse(readFileSync(charge.privateJwkFile, 'utf8')) as JWK;
      const token = await clientCredentialsToken({
        baseUrl: cp.config.publicBaseUrl,
        ca: cp.ca,
        clientId: 'chargenet-charging',
        privateJwk,
        scope: 'vehicle:charging',
      });
      expect(decodeJwt(token.accessToken)).toMatchObject({
        client_id: 'chargenet-charging',
        scope: 'vehicle:charging',
        aud: 'urn:carapace:api',
      });
      await expect(
        clientCredentialsToken({
          baseUrl: cp.config.publicBaseUrl,
          ca: cp.ca,
          clientId: 'insights-readonly',
          privateJwk,
          scope: 'vehicle:read_status',
        }),
      ).rejects.toMatchObject({ body: { error: 'invalid_client' } });
    } finally {
      await cp.stop();
    }
  });

  it('is refused in production mode', async () => {
    const cp = await startTestCarapace({ database });
    try {
      const prod = { ...cp.platform, config: loadConfig({ overrides: { ...cp.config, mode: 'production' } }) };
      await expect(seedFromFile(prod, fileURLToPath(DEMO_SCENARIO))).rejects.toMatchObject({ code: 'ERR_FORBIDDEN' });
    } finally {
      await cp.stop();
    }
  });
});
