import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { startTestCarapace, testEngines, type TestCarapace } from '../src/testing/index.js';
import { GatewayClient } from '../src/vehicle-sdk/index.js';

describe.each(testEngines())('claiming a vehicle with the code inside it (%s)', (database) => {
  let cp: TestCarapace;
  let bob: CarapaceClient;
  let dana: CarapaceClient;
  let spare: GatewayClient;
  let other: GatewayClient;
  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      overrides: { seedDemo: true, claims: { failuresPerVehicle: 3, failuresPerAccount: 5 } },
    });
    const signIn = async (email: string, password: string) => {
      const c = await CarapaceClient.create({
        baseUrl: cp.config.publicBaseUrl,
        ca: cp.ca,
        clientId: 'carapace-owner-app',
        redirectUri: 'http://127.0.0.1/callback',
      });
      await c.login({ email, password, scopes: ['openid', 'vehicle:read_status', 'vehicle:claim'] });
      return c;
    };
    dana = await signIn('dana@example.com', 'demo-dana-password');
    bob = await signIn('frank@example.com', 'demo-frank-password');
    // The seeded spare car's unit enrolls with its factory credentials, as it would on first start.
    spare = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca, keyAlgorithm: 'Ed25519' });
    const dir = `${cp.config.dataDir}/factory/TCU-DEMO-0004`;
    const { readFileSync } = await import('node:fs');
    await spare.enroll({
      cert: readFileSync(`${dir}/factory-cert.pem`, 'utf8'),
      key: readFileSync(`${dir}/factory-key.pem`, 'utf8'),
    });
    other = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca, keyAlgorithm: 'P-256' });
    await other.enroll(await cp.factoryUnit('TCU-CLAIM-0005', '5YJ3E1EA7KF000005'));
  }, 120_000);
  afterAll(async () => {
    spare?.close();
    other?.close();
    await cp?.stop();
  });

  it('refuses every failure with one answer, locks a VIN out after a few tries, and a fresh code claims once', async () => {
    const first = await other.claimCode();
    expect(first.code).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
    const fresh = await other.claimCode();
    const claim = (c: CarapaceClient, vin: string, code: string) => c.api('POST', '/v1/vehicle-claims', { vin, code });
    // Wrong code, a code for another vehicle's VIN, a VIN that does not exist, an owned vehicle: the same refusal.
    const answers = await Promise.all([
      claim(dana, '5YJ3E1EA7KF000005', 'AAAAA-AAAAA-AAAAA-AAAAA'),
      claim(dana, '5YJ3E1EA7KF000001', fresh.code),
      claim(dana, '5YJ3E1EA7KF999999', fresh.code),
    ]);
    for (const a of answers)
      expect({
        status: a.status,
        code: (a.json as { code: string }).code,
        detail: (a.json as { detail: string }).detail,
      }).toEqual({ status: 422, code: 'ERR_CLAIM_REFUSED', detail: 'this vehicle cannot be claimed with that code' });
    // The superseded code no longer works.
    expect((await claim(bob, '5YJ3E1EA7KF000005', first.code)).status).toBe(422);
    expect((await claim(bob, '5YJ3E1EA7KF000005', 'BBBBB-BBBBB-BBBBB-BBBBB')).status).toBe(422);
    // Three failures against this vehicle: it is locked for everyone, even with the right code.
    const locked = await claim(bob, '5YJ3E1EA7KF000005', fresh.code);
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toBe('3600');
    expect(
      (await cp.platform.audit.list({ type: 'relationships.claim.refused', limit: 20 })).length,
    ).toBeGreaterThanOrEqual(4);
    // Strangers' guesses cannot keep the buyer out: a new code from inside the vehicle lifts the vehicle's lock.
    const renewed = await other.claimCode();
    expect((await claim(bob, '5YJ3E1EA7KF000005', renewed.code)).status).toBe(201);
  });

  it('lets no more parallel guesses reach the check than the limit allows (places are reserved first)', async () => {
    // Ten guesses at once against one unknown VIN, limit three per vehicle: exactly three are checked.
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        bob.api('POST', '/v1/vehicle-claims', { vin: '5YJ3E1EA7KF777777', code: 'CCCCC-CCCCC-CCCCC-CCCCC' }),
      ),
    );
    expect(answers.filter((a) => a.status === 422)).toHaveLength(3);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(7);
  });

  it('claims with a typed code (any case, spaces) and never twice', async () => {
    const { code } = await spare.claimCode();
    const typed = code.toLowerCase().replace(/-/g, ' ');
    const signIn = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await signIn.login({
      email: 'dana@example.com',
      password: 'demo-dana-password',
      scopes: ['openid', 'vehicle:read_status', 'vehicle:claim'],
    });
    const res = await signIn.api('POST', '/v1/vehicle-claims', { vin: '5yj3e1ea7kf000004', code: typed });
    expect(res.status).toBe(201);
    const vehicleId = (res.json as { vehicleId: string }).vehicleId;
    expect(((await signIn.api('GET', `/v1/vehicles/${vehicleId}`)).json as { access: string[] }).access).toEqual([
      'owner',
    ]);
    // The code is spent, and the vehicle now has an owner: the same refusal as any other.
    expect((await signIn.api('POST', '/v1/vehicle-claims', { vin: '5YJ3E1EA7KF000004', code })).status).toBe(422);
  });
});
