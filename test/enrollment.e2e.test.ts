import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { x509 } from '../src/platform/index.js';
import { createCsr, GatewayClient, GatewayError, generateDeviceKey, httpsRequest } from '../src/vehicle-sdk/index.js';

const DAY = 86400_000;

describe.each(testEngines())('enrollment, rotation and replacement on %s', (engine) => {
  let cp: TestCarapace;
  const clock = new FixedClock(Date.now());

  beforeAll(async () => {
    cp = await startTestCarapace({ database: engine, clock, overrides: { pki: { rotationOverlap: '1h' } } });
  });
  afterAll(async () => {
    await cp.stop();
  });

  const client = (keyAlgorithm: 'Ed25519' | 'P-256' = 'Ed25519') =>
    new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca, keyAlgorithm });

  it.each(['Ed25519', 'P-256'] as const)(
    'enrolls a %s device key into a 7-day certificate bound to its vehicle',
    async (alg) => {
      const unit = await cp.factoryUnit(`TCU-EN-${alg}`, alg === 'Ed25519' ? '1HGCM82633A004352' : undefined);
      const device = client(alg);
      const { issued } = await device.enroll(unit);
      expect(issued).toMatchObject({
        deviceId: unit.deviceId,
        vehicleId: unit.vehicleId,
        commandVerificationKeys: { keys: expect.any(Array) },
      });
      const cert = new X509Certificate(issued.certificate);
      expect(cert.subjectAltName).toBe(
        `URI:urn:carapace:device:${unit.deviceId}, URI:urn:carapace:vehicle:${unit.vehicleId}`,
      );
      const { fleet, root } = cp.platform.pki.ctx.authorities;
      expect(cert.checkIssued(fleet.node) && cert.verify(fleet.node.publicKey)).toBe(true);
      expect(issued.chain).toEqual([fleet.pem, root.pem]);
      const lifetime = Date.parse(issued.notAfter) - Date.parse(issued.notBefore);
      expect(lifetime).toBe(7 * DAY + 60_000);
      expect(await device.self()).toMatchObject({ status: 'active', certificate: { serial: issued.serial } });
      const [event] = await cp.platform.audit.list({ type: 'pki.device.enrolled', objectId: unit.deviceId });
      expect(event?.details).toMatchObject({ serial: issued.serial, keyType: alg });
      device.close();
    },
  );

  it('returns a PEM chain to clients that ask for application/pem-certificate-chain', async () => {
    const unit = await cp.factoryUnit('TCU-EN-PEM');
    const key = await generateDeviceKey('P-256');
    const csrDer = x509.PemConverter.decodeFirst(await createCsr(key));
    const res = await httpsRequest(`${cp.addresses.gateway}/v1/enrollments`, {
      method: 'POST',
      ca: cp.ca,
      cert: unit.cert,
      key: unit.key,
      headers: { 'content-type': 'application/pkcs10', accept: 'application/pem-certificate-chain' },
      body: new Uint8Array(csrDer),
    });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toContain('application/pem-certificate-chain');
    expect(res.text.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('refuses to enroll twice, and refuses a device id held by another unit', async () => {
    const unit = await cp.factoryUnit('TCU-EN-TWICE');
    const first = client();
    await first.enroll(unit);
    await expect(client().enroll(unit)).rejects.toMatchObject({ status: 409, code: 'ERR_PKI_DEVICE_ALREADY_ENROLLED' });
    const impostor = await cp.factoryUnit('TCU-EN-IMPOSTOR');
    await expect(client().enroll(impostor, { deviceId: unit.deviceId })).rejects.toMatchObject({
      status: 409,
      code: 'ERR_PKI_DEVICE_ID_CONFLICT',
    });
    const refused = await cp.platform.audit.list({ type: 'pki.enrollment.refused', limit: 10 });
    expect(refused.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['ERR_PKI_DEVICE_ALREADY_ENROLLED', 'ERR_PKI_DEVICE_ID_CONFLICT']),
    );
    first.close();
  });

  it('lets exactly one of two concurrent enrollments of a unit win', async () => {
    const unit = await cp.factoryUnit('TCU-EN-RACE');
    const results = await Promise.allSettled([client().enroll(unit), client().enroll(unit), client().enroll(unit)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const certs = await cp.platform.storage.db
      .selectFrom('certificates')
      .select('serial')
      .where('device_id', '=', unit.deviceId)
      .execute();
    expect(certs).toHaveLength(1);
  });

  it('refuses a unit that is not provisioned, bad CSRs, foreign key types and reused keys', async () => {
    const unregistered = await cp.platform.pki.issueFactoryCertificate({
      tcuSerial: 'TCU-EN-NOREG',
      csrPem: null,
      binding: null,
      actor: { type: 'system', id: null },
    });
    await expect(
      client().enroll({ cert: unregistered.certificatePem, key: unregistered.privateKeyPem as string }),
    ).rejects.toMatchObject({ status: 403, code: 'ERR_PKI_DEVICE_NOT_PROVISIONED' });

    const unit = await cp.factoryUnit('TCU-EN-BADCSR');
    const post = (body: string, type = 'application/json') =>
      httpsRequest(`${cp.addresses.gateway}/v1/enrollments`, {
        method: 'POST',
        ca: cp.ca,
        cert: unit.cert,
        key: unit.key,
        headers: { 'content-type': type },
        body,
      });
    const good = await createCsr(await generateDeviceKey());
    // A CSR whose signature no longer matches its content: possession is not proven.
    const der = Buffer.from(x509.PemConverter.decodeFirst(good));
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff;
    const tampered = x509.PemConverter.encode(new Uint8Array(der), 'CERTIFICATE REQUEST');
    expect((await post(JSON.stringify({ csr: tampered }))).json).toMatchObject({
      code: 'ERR_PKI_CSR_INVALID',
      reason: 'bad_signature',
    });
    expect((await post(JSON.stringify({ csr: 'not a csr' }))).json).toMatchObject({
      code: 'ERR_PKI_CSR_INVALID',
      reason: 'unparseable',
    });

    const rsa = await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    );
    const rsaCsr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=rsa',
      keys: rsa,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    });
    expect((await post(JSON.stringify({ csr: rsaCsr.toString('pem') }))).json).toMatchObject({
      code: 'ERR_PKI_CSR_INVALID',
      reason: 'key_type',
    });

    expect((await post(JSON.stringify({ csr: good, tenantId: 'x' }))).json).toMatchObject({
      code: 'ERR_VALIDATION',
      field: 'body.tenantId',
    });
    expect((await post('{"csr":', 'application/json')).status).toBe(400);
    expect((await post(good, 'text/plain')).status).toBe(415);

    // The factory key itself may not become the operational key.
    const factoryKey = {
      pair: {
        privateKey: await crypto.subtle.importKey(
          'pkcs8',
          x509.PemConverter.decodeFirst(unit.key),
          { name: 'ECDSA', namedCurve: 'P-256' },
          true,
          ['sign'],
        ),
        publicKey: await new x509.X509Certificate(unit.cert).publicKey.export(),
      },
    };
    const reuse = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=reuse',
      keys: factoryKey.pair,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    expect((await post(JSON.stringify({ csr: reuse.toString('pem') }))).json).toMatchObject({
      code: 'ERR_PKI_KEY_REUSED',
    });

    const stillProvisioned = await cp.platform.storage.db
      .selectFrom('devices')
      .select('status')
      .where('id', '=', unit.deviceId)
      .executeTakeFirstOrThrow();
    expect(stillProvisioned.status).toBe('provisioned');
  });

  it('rotates: both certificates work in the overlap, the old one is superseded once the new one is used', async () => {
    const device = await cp.enrolledDevice('TCU-ROT-1');
    const old = device.credentials!;
    const oldClient = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    oldClient.credentials = old;
    await device.rotate();
    expect(device.credentials!.issued.serial).not.toBe(old.issued.serial);
    // Overlap: the old certificate still works while the new one is unused.
    expect((await oldClient.request('GET', `/v1/devices/${old.issued.deviceId}`)).status).toBe(200);
    // First use of the new one supersedes the old one at once.
    expect((await device.self()).certificate).toMatchObject({ serial: device.credentials!.issued.serial });
    oldClient.close();
    const refused = await oldClient.request('GET', `/v1/devices/${old.issued.deviceId}`);
    expect(refused.json).toMatchObject({ code: 'ERR_CLIENT_CERT_SUPERSEDED', reason: 'certificate_superseded' });
    const rows = await cp.platform.storage.db
      .selectFrom('certificates')
      .select(['serial', 'status'])
      .where('device_id', '=', old.issued.deviceId)
      .execute();
    expect(Object.fromEntries(rows.map((r) => [r.serial, r.status]))).toEqual({
      [old.issued.serial]: 'superseded',
      [device.credentials!.issued.serial]: 'active',
    });
    // The superseded certificate cannot rotate again.
    const again = await oldClient.request('POST', `/v1/devices/${old.issued.deviceId}/certificates`, {
      csr: await createCsr(await generateDeviceKey()),
    });
    expect(again.status).toBe(401);
    oldClient.close();
    device.close();
  });

  it('ends the overlap after the configured window even if the new certificate is never used', async () => {
    const device = await cp.enrolledDevice('TCU-ROT-2');
    const old = device.credentials!;
    const rotated = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    rotated.credentials = old;
    await rotated.rotate();
    device.close();
    expect((await device.request('GET', `/v1/devices/${old.issued.deviceId}`)).status).toBe(200);
    clock.advance(61 * 60_000);
    device.close();
    const res = await device.request('GET', `/v1/devices/${old.issued.deviceId}`);
    expect(res.json).toMatchObject({ code: 'ERR_CLIENT_CERT_SUPERSEDED', reason: 'certificate_overlap_ended' });
    expect((await rotated.self()).status).toBe('active');
    device.close();
    rotated.close();
    // Back to real time: certificates issued later must be valid for the real TLS handshake.
    clock.set(new Date());
  });

  it('refuses a rotation CSR that reuses the current key', async () => {
    const device = await cp.enrolledDevice('TCU-ROT-3');
    const { key, issued } = device.credentials!;
    const res = await device.request('POST', `/v1/devices/${issued.deviceId}/certificates`, {
      csr: await createCsr(key),
    });
    expect(res.json).toMatchObject({ code: 'ERR_PKI_KEY_REUSED' });
    device.close();
  });

  it('replaces a unit: the old one is decommissioned and revoked, the new one enrolls for the same vehicle', async () => {
    const oldUnit = await cp.enrolledDevice('TCU-REPL-OLD');
    const oldIssued = oldUnit.credentials!.issued;
    const { replacement } = await cp.platform.pki.replaceDevice({
      deviceId: oldIssued.deviceId,
      newTcuSerial: 'TCU-REPL-NEW',
      reason: 'hardware fault',
      actor: { type: 'operator', id: 'test' },
      context: null,
    });
    expect(replacement.vehicle_id).toBe(oldIssued.vehicleId);
    const refused = await oldUnit.request('GET', `/v1/devices/${oldIssued.deviceId}`);
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({ code: 'ERR_CLIENT_CERT_REVOKED' });

    const factory = await cp.platform.pki.issueFactoryCertificate({
      tcuSerial: 'TCU-REPL-NEW',
      csrPem: null,
      binding: null,
      actor: { type: 'system', id: null },
    });
    const fresh = client();
    const { issued } = await fresh.enroll({ cert: factory.certificatePem, key: factory.privateKeyPem as string });
    expect(issued).toMatchObject({ deviceId: replacement.id, vehicleId: oldIssued.vehicleId });
    // The old unit's id cannot be taken over by the new unit.
    const other = await cp.factoryUnit('TCU-REPL-OTHER');
    await expect(client().enroll(other, { deviceId: oldIssued.deviceId })).rejects.toBeInstanceOf(GatewayError);
    const old = await cp.platform.storage.db
      .selectFrom('devices')
      .selectAll()
      .where('id', '=', oldIssued.deviceId)
      .executeTakeFirstOrThrow();
    expect(old).toMatchObject({ status: 'decommissioned', replaced_by: replacement.id });
    expect(await cp.platform.audit.list({ type: 'pki.device.replaced', objectId: oldIssued.vehicleId })).toHaveLength(
      1,
    );
    fresh.close();
    oldUnit.close();
  });

  it('keeps a second unit off a vehicle that has one in service', async () => {
    await cp.factoryUnit('TCU-VIN-1', '2HGCM82633A004353');
    await expect(cp.factoryUnit('TCU-VIN-2', '2HGCM82633A004353')).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    await expect(cp.factoryUnit('TCU-VIN-1')).rejects.toMatchObject({ code: 'ERR_PKI_SERIAL_IN_USE' });
  });
});
