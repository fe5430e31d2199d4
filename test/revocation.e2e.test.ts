import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/platform/index.js';
import { x509 } from '../src/platform/index.js';
import { createPlatform } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { type GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';

const admin = (cp: TestCarapace, method: string, path: string, body?: unknown) =>
  httpsRequest(`${cp.addresses.admin}${path}`, {
    method,
    ca: cp.ca,
    cert: cp.operatorTls.cert,
    key: cp.operatorTls.key,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Opens one kept-alive TLS connection as the device and reports when the server closes it. */
function keptAlive(cp: TestCarapace, device: GatewayClient) {
  const { key, issued } = device.credentials!;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  let socket: TLSSocket | null = null;
  const closed = new Promise<void>((resolve) => {
    agent.on('free', (s: TLSSocket) => {
      if (socket) return;
      socket = s;
      s.once('close', () => resolve());
    });
  });
  const get = () =>
    httpsRequest(`${cp.addresses.gateway}/v1/devices/${issued.deviceId}`, {
      ca: cp.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      agent,
    });
  return { get, closed, agent };
}

describe.each(testEngines())('revocation on %s', (engine) => {
  let cp: TestCarapace;

  beforeAll(async () => {
    cp = await startTestCarapace({ database: engine });
  });
  afterAll(async () => {
    await cp.stop();
  });

  it('revokes through the admin plane: the open connection is closed and the next request is refused', async () => {
    const device = await cp.enrolledDevice('TCU-RV-1');
    const conn = keptAlive(cp, device);
    expect((await conn.get()).status).toBe(200);
    const res = await admin(cp, 'POST', '/admin/v1/revocations', {
      deviceId: device.credentials!.issued.deviceId,
      reason: 'keyCompromise',
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ revokedSerials: [device.credentials!.issued.serial] });
    await conn.closed;
    const after = await conn.get();
    expect(after.json).toMatchObject({ code: 'ERR_CLIENT_CERT_REVOKED' });
    const [event] = await cp.platform.audit.list({
      type: 'pki.device.transitioned',
      objectId: device.credentials!.issued.deviceId,
    });
    expect(event).toMatchObject({
      actor: { type: 'operator', id: 'admin' },
      reason: 'keyCompromise',
      details: { to: 'revoked' },
    });
    conn.agent.destroy();
  });

  it('revokes a single certificate by serial, in any notation', async () => {
    const device = await cp.enrolledDevice('TCU-RV-2');
    const serial = device.credentials!.issued.serial;
    const colons = serial.match(/.{2}/g)!.join(':').toLowerCase();
    expect((await admin(cp, 'POST', '/admin/v1/revocations', { serial: colons, reason: 'superseded' })).status).toBe(
      201,
    );
    expect((await device.request('GET', `/v1/devices/${device.credentials!.issued.deviceId}`)).status).toBe(401);
    // Idempotent: revoking again changes nothing and says so.
    expect((await admin(cp, 'POST', '/admin/v1/revocations', { serial, reason: 'superseded' })).json).toMatchObject({
      revokedSerials: [],
    });
    device.close();
  });

  it('refuses malformed revocation requests', async () => {
    expect((await admin(cp, 'POST', '/admin/v1/revocations', { reason: 'keyCompromise' })).json).toMatchObject({
      code: 'ERR_PKI_REVOCATION_INVALID',
    });
    expect(
      (
        await admin(cp, 'POST', '/admin/v1/revocations', {
          serial: 'AB',
          deviceId: '8a0e2b0c-7d1e-4a8f-9b2c-1d3e4f5a6b7c',
          reason: 'keyCompromise',
        })
      ).status,
    ).toBe(400);
    expect((await admin(cp, 'POST', '/admin/v1/revocations', { serial: 'AB', reason: 'because' })).status).toBe(400);
    expect(
      (await admin(cp, 'POST', '/admin/v1/revocations', { serial: 'ABCDEF', reason: 'keyCompromise' })).json,
    ).toMatchObject({ code: 'ERR_PKI_CERT_NOT_FOUND' });
  });

  it('applies a revocation made by another process (the CLI) at the next reload, closing open connections', async () => {
    const device = await cp.enrolledDevice('TCU-RV-3');
    const conn = keptAlive(cp, device);
    expect((await conn.get()).status).toBe(200);
    const cli = await createPlatform(cp.config, { log: createLogger('silent') });
    await cli.pki.revokeDevice({
      deviceId: device.credentials!.issued.deviceId,
      reason: 'keyCompromise',
      actor: { type: 'operator', id: 'cli' },
      context: null,
    });
    await cli.close();
    // The running server has not heard of it yet; its periodic reload (every 2 s by default) brings it in.
    await cp.platform.pki.ctx.cache.refresh();
    await conn.closed;
    expect((await conn.get()).json).toMatchObject({ code: 'ERR_CLIENT_CERT_REVOKED' });
    conn.agent.destroy();
  });

  it('quarantines and releases a device', async () => {
    const device = await cp.enrolledDevice('TCU-RV-4');
    const id = device.credentials!.issued.deviceId;
    const q = await admin(cp, 'POST', `/admin/v1/devices/${id}/status`, {
      status: 'quarantined',
      reason: 'bad signatures',
    });
    expect(q.json).toMatchObject({ status: 'quarantined' });
    device.close();
    expect((await device.request('GET', `/v1/devices/${id}`)).json).toMatchObject({
      code: 'ERR_DEVICE_NOT_ACTIVE',
      reason: 'device_quarantined',
    });
    device.close();
    expect(
      (await admin(cp, 'POST', `/admin/v1/devices/${id}/status`, { status: 'active', reason: 'investigated' })).status,
    ).toBe(200);
    expect((await device.request('GET', `/v1/devices/${id}`)).status).toBe(200);
    device.close();
  });

  it('allows only the lifecycle transitions the state machine defines, and audits refusals', async () => {
    const device = await cp.enrolledDevice('TCU-RV-5');
    const id = device.credentials!.issued.deviceId;
    expect(
      (await admin(cp, 'POST', `/admin/v1/devices/${id}/status`, { status: 'decommissioned', reason: 'end of life' }))
        .status,
    ).toBe(200);
    const back = await admin(cp, 'POST', `/admin/v1/devices/${id}/status`, { status: 'active', reason: 'oops' });
    expect(back.json).toMatchObject({
      status: 409,
      code: 'ERR_PKI_TRANSITION_NOT_ALLOWED',
      from: 'decommissioned',
      to: 'active',
    });
    const [refusal] = await cp.platform.audit.list({ type: 'pki.device.transition_refused', objectId: id });
    expect(refusal).toMatchObject({ decision: 'deny', reason: 'ERR_PKI_TRANSITION_NOT_ALLOWED' });
    const view = await admin(cp, 'GET', `/admin/v1/devices/${id}`);
    expect(view.json).toMatchObject({
      status: 'decommissioned',
      certificates: [{ status: 'revoked', revocationReason: 'cessationOfOperation' }],
    });
    const unit = await cp.factoryUnit('TCU-RV-6');
    expect(
      (await admin(cp, 'POST', `/admin/v1/devices/${unit.deviceId}/status`, { status: 'quarantined', reason: 'x' }))
        .status,
    ).toBe(409);
    device.close();
  });

  it('publishes revoked serials in the fleet CA CRL, signed by the fleet CA', async () => {
    const device = await cp.enrolledDevice('TCU-RV-7');
    const serial = device.credentials!.issued.serial;
    await cp.platform.pki.revokeCertificate({
      serial,
      reason: 'keyCompromise',
      actor: { type: 'operator', id: 'test' },
      context: null,
    });
    const res = await fetchBinary(`${cp.addresses.public}/pki/crl/fleet.crl`, cp.ca);
    expect(res.type).toBe('application/pkix-crl');
    const crl = new x509.X509Crl(res.body);
    expect(await crl.verify({ publicKey: cp.platform.pki.ctx.authorities.fleet.certificate.publicKey })).toBe(true);
    const entry = crl.entries.find((e) => e.serialNumber.toUpperCase() === serial);
    expect(entry?.reason).toBe(x509.X509CrlReason.keyCompromise);
    const issuedCert = new x509.X509Certificate(device.credentials!.issued.certificate);
    expect(
      issuedCert.getExtension(x509.CRLDistributionPointsExtension)?.distributionPoints[0]?.distributionPoint
        ?.fullName?.[0]?.uniformResourceIdentifier,
    ).toBe(`${cp.config.publicBaseUrl}/pki/crl/fleet.crl`);
    device.close();
  });
});

async function fetchBinary(url: string, ca: string): Promise<{ type: string; body: Uint8Array }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ type: String(res.headers['content-type']), body: new Uint8Array(Buffer.concat(chunks)) }),
        );
      })
      .on('error', reject);
  });
}

describe.runIf(process.env.REDIS_URL)('revocation fan-out over Redis', () => {
  it.each(testEngines())('reaches a running server at once, without waiting for its reload (%s)', async (database) => {
    // A reload interval of a minute proves the refusal came through Redis, not through polling.
    const overrides = { redis: { url: process.env.REDIS_URL }, pki: { revocationPollInterval: 60 } };
    const cp = await startTestCarapace({ database, overrides });
    try {
      const device = await cp.enrolledDevice('TCU-RV-REDIS');
      const conn = keptAlive(cp, device);
      expect((await conn.get()).status).toBe(200);
      const cli = await createPlatform(cp.config, { log: createLogger('silent') });
      await cli.pki.revokeDevice({
        deviceId: device.credentials!.issued.deviceId,
        reason: 'keyCompromise',
        actor: { type: 'operator', id: 'cli' },
        context: null,
      });
      await cli.close();
      await conn.closed;
      expect((await conn.get()).json).toMatchObject({ code: 'ERR_CLIENT_CERT_REVOKED' });
      conn.agent.destroy();
    } finally {
      await cp.stop();
    }
  });
});
