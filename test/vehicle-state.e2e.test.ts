import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient, ServiceSession } from '../src/client/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { GatewayClient } from '../src/vehicle-sdk/index.js';
import { signerFor, wire } from './telemetry-support.js';

describe.each(testEngines())('telemetry shows as vehicle state through the authorized vehicle API (%s)', (database) => {
  let cp: TestCarapace;
  let unit: GatewayClient;
  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    // Alice's car's unit enrolls with its factory credentials and reports.
    unit = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca, keyAlgorithm: 'Ed25519' });
    const dir = join(cp.config.dataDir, 'factory', 'TCU-DEMO-0001');
    await unit.enroll({
      cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
    });
    const signer = signerFor(unit);
    const receipt = await unit.sendTelemetry(
      [
        await signer.sign({ kind: 'position', lat: 52.52, lon: 13.405 }),
        await signer.sign({ kind: 'doors', locked: true, open: [] }),
        await signer.sign({ kind: 'speed', kmh: 0 }),
        await signer.sign({
          kind: 'diagnostics',
          codes: [
            { code: 'P0420', status: 'active' },
            { code: 'P0171', status: 'cleared' },
          ],
        }),
      ].map(wire),
    );
    expect(receipt.verdicts.map((v) => v.verdict)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
  }, 120_000);
  afterAll(async () => {
    unit?.close();
    await cp?.stop();
  });

  it('gives each caller exactly the data their relationship allows', async () => {
    const vehicleId = unit.credentials!.issued.vehicleId;
    const dana = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await dana.login({
      email: 'dana@example.com',
      password: 'demo-dana-password',
      scopes: ['openid', 'vehicle:read_status', 'vehicle:location'],
    });
    const status = await dana.api('GET', `/v1/vehicles/${vehicleId}/status`);
    expect(status.json).toMatchObject({
      vehicleId,
      device: { status: 'active' },
      reported: { locks: { value: { locked: true, open: [] } }, speedKmh: { value: 0 } },
    });
    // Status never carries the position: location is its own action.
    expect(JSON.stringify(status.json)).not.toContain('52.52');
    expect((await dana.api('GET', `/v1/vehicles/${vehicleId}/location`)).json).toMatchObject({
      position: { lat: 52.52, lon: 13.405 },
    });
    // A driver does not see diagnostics (and the owner app has no diagnostics scope).
    expect((await dana.api('GET', `/v1/vehicles/${vehicleId}/diagnostics`)).status).toBe(403);
    // The status-only partner reads status but is refused the location, and never sees the VIN.
    const privateJwk = JSON.parse(
      readFileSync(join(cp.config.dataDir, 'demo', 'insights-readonly.private.jwk.json'), 'utf8'),
    ) as JWK;
    const partner = await ServiceSession.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'insights-readonly',
      privateJwk,
      scope: 'vehicle:read_status',
    });
    expect((await partner.api('GET', `/v1/vehicles/${vehicleId}/status`)).json).toMatchObject({
      reported: { locks: { value: { locked: true } } },
    });
    expect((await partner.api('GET', `/v1/vehicles/${vehicleId}`)).json).toMatchObject({
      vin: null,
      access: ['partner'],
    });
    expect((await partner.api('GET', `/v1/vehicles/${vehicleId}/location`)).status).toBe(403);
    // A dealer with only a closed case on this car sees nothing of it.
    const derek = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-dealer-tool',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await derek.login({
      email: 'derek@mainstreet.example',
      password: 'demo-derek-password',
      scopes: ['openid', 'vehicle:read_status', 'vehicle:diagnostics'],
    });
    expect((await derek.api('GET', `/v1/vehicles/${vehicleId}/diagnostics`)).status).toBe(404);
  });
});
