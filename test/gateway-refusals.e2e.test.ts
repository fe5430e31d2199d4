import { type webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityUri } from '../src/pki/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { foreignCa, signLeaf, testKey } from '../src/testing/index.js';
import { type GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';

/**
 * Every way the gateway must refuse a client, each over a real TLS handshake against a listening server, and
 * each found afterwards in the audit store with its reason.
 */
describe.each(testEngines())('vehicle gateway refusals on %s', (engine) => {
  let cp: TestCarapace;
  let device: GatewayClient;
  let other: GatewayClient;
  let url: (path: string) => string;

  beforeAll(async () => {
    cp = await startTestCarapace({ database: engine });
    device = await cp.enrolledDevice('TCU-REF-1');
    other = await cp.enrolledDevice('TCU-REF-2');
    url = (path) => `${cp.addresses.gateway}${path}`;
  });
  afterAll(async () => {
    device.close();
    other.close();
    await cp.stop();
  });

  const idOf = (c: GatewayClient) => c.credentials?.issued.deviceId as string;

  async function expectRefusal(
    res: { status: number; json: unknown; headers: Record<string, unknown> },
    status: number,
    code: string,
    reason: unknown,
  ) {
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ code, reason, status, type: expect.stringMatching(/^urn:carapace:problem:/) });
    const requestId = String(res.headers['x-request-id']);
    const [event] = await cp.platform.audit.list({ type: 'gateway.request.refused', requestId });
    expect(event).toMatchObject({ decision: 'deny', reason, details: { code }, context: { requestId } });
  }

  it('answers a valid operational certificate', async () => {
    const res = await device.request('GET', `/v1/devices/${idOf(device)}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ deviceId: idOf(device), status: 'active' });
  });

  it('refuses a connection without a client certificate', async () => {
    const res = await httpsRequest(url(`/v1/devices/${idOf(device)}`), { ca: cp.ca });
    await expectRefusal(res, 401, 'ERR_CLIENT_CERT_REQUIRED', 'no_client_certificate');
  });

  it('refuses unknown paths to unauthenticated callers with 401, not 404', async () => {
    const res = await httpsRequest(url('/v1/nothing-here'), { ca: cp.ca });
    expect(res.status).toBe(401);
  });

  it('refuses a certificate from another CA, even one naming a real device', async () => {
    const evil = await foreignCa();
    const key = await testKey();
    const cert = await signLeaf({
      issuer: evil.cert,
      issuerKey: evil.key.pair.privateKey,
      subjectKey: key,
      uris: [IdentityUri.device(idOf(device))],
    });
    const res = await httpsRequest(url(`/v1/devices/${idOf(device)}`), {
      ca: cp.ca,
      cert: `${cert}\n${evil.cert.toString('pem')}\n`,
      key: key.pem,
    });
    await expectRefusal(res, 401, 'ERR_CLIENT_CERT_UNTRUSTED', expect.stringMatching(/^untrusted_/));
  });

  it('refuses an expired certificate', async () => {
    const { fleet } = cp.platform.pki.ctx.authorities;
    const key = await testKey();
    const cert = await signLeaf({
      issuer: fleet.certificate,
      issuerKey: fleet.signingKey as webcrypto.CryptoKey,
      subjectKey: key,
      uris: [IdentityUri.device(idOf(device))],
      notBefore: new Date(Date.now() - 10 * 86400_000),
      notAfter: new Date(Date.now() - 86400_000),
    });
    const res = await httpsRequest(url(`/v1/devices/${idOf(device)}`), { ca: cp.ca, cert, key: key.pem });
    await expectRefusal(res, 401, 'ERR_CLIENT_CERT_EXPIRED', 'certificate_expired');
  });

  it('refuses a certificate that is not valid yet', async () => {
    const { fleet } = cp.platform.pki.ctx.authorities;
    const key = await testKey();
    const cert = await signLeaf({
      issuer: fleet.certificate,
      issuerKey: fleet.signingKey as webcrypto.CryptoKey,
      subjectKey: key,
      uris: [IdentityUri.device(idOf(device))],
      notBefore: new Date(Date.now() + 86400_000),
      notAfter: new Date(Date.now() + 2 * 86400_000),
    });
    const res = await httpsRequest(url(`/v1/devices/${idOf(device)}`), { ca: cp.ca, cert, key: key.pem });
    await expectRefusal(res, 401, 'ERR_CLIENT_CERT_NOT_YET_VALID', 'certificate_not_yet_valid');
  });

  it('refuses a fleet-CA signature that this platform never issued (a forged or leaked-key issuance)', async () => {
    const { fleet } = cp.platform.pki.ctx.authorities;
    const key = await testKey();
    const cert = await signLeaf({
      issuer: fleet.certificate,
      issuerKey: fleet.signingKey as webcrypto.CryptoKey,
      subjectKey: key,
      uris: [IdentityUri.device(idOf(device))],
    });
    const res = await httpsRequest(url(`/v1/devices/${idOf(device)}`), { ca: cp.ca, cert, key: key.pem });
    await expectRefusal(res, 401, 'ERR_CLIENT_CERT_UNTRUSTED', 'unknown_certificate');
  });

  it('refuses an operator certificate (root-issued) at the gateway', async () => {
    const res = await httpsRequest(url(`/v1/devices/${idOf(device)}`), {
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
    });
    await expectRefusal(res, 401, 'ERR_CLIENT_CERT_UNTRUSTED', 'wrong_issuer');
  });

  it('refuses the server certificate used as a client certificate (wrong purpose)', async () => {
    const res = await httpsRequest(url(`/v1/devices/${idOf(device)}`), {
      ca: cp.ca,
      cert: cp.tls.cert,
      key: cp.tls.key,
    });
    await expectRefusal(res, 401, 'ERR_CLIENT_CERT_UNTRUSTED', 'invalid_purpose');
  });

  it('refuses a factory certificate anywhere but enrollment', async () => {
    const unit = await cp.factoryUnit('TCU-REF-3');
    const res = await httpsRequest(url(`/v1/devices/${unit.deviceId}`), { ca: cp.ca, cert: unit.cert, key: unit.key });
    await expectRefusal(res, 403, 'ERR_CLIENT_CERT_WRONG_PROFILE', 'factory_certificate_outside_enrollment');
    const rotate = await httpsRequest(url(`/v1/devices/${unit.deviceId}/certificates`), {
      ca: cp.ca,
      cert: unit.cert,
      key: unit.key,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"csr":"x"}',
    });
    expect(rotate.status).toBe(403);
  });

  it('refuses an operational certificate at enrollment', async () => {
    const res = await device.request('POST', '/v1/enrollments', { csr: 'x' });
    await expectRefusal(res, 403, 'ERR_CLIENT_CERT_WRONG_PROFILE', 'operational_certificate_at_enrollment');
  });

  it("refuses device X's certificate acting for device Y, and records both ids", async () => {
    const res = await device.request('GET', `/v1/devices/${idOf(other)}`);
    await expectRefusal(res, 403, 'ERR_DEVICE_MISMATCH', 'device_mismatch');
    const [event] = await cp.platform.audit.list({ type: 'gateway.request.refused', actorId: idOf(device), limit: 1 });
    expect(event?.details.claimedDeviceId).toBe(idOf(other));
    const rotate = await device.request('POST', `/v1/devices/${idOf(other)}/certificates`, { csr: 'x' });
    expect(rotate.status).toBe(403);
  });

  it('refuses a revoked certificate', async () => {
    const victim = await cp.enrolledDevice('TCU-REF-4');
    await cp.platform.pki.revokeCertificate({
      serial: victim.credentials?.issued.serial as string,
      reason: 'keyCompromise',
      actor: { type: 'operator', id: 'test' },
      context: null,
    });
    const res = await victim.request('GET', `/v1/devices/${victim.credentials?.issued.deviceId}`);
    await expectRefusal(res, 401, 'ERR_CLIENT_CERT_REVOKED', 'certificate_revoked');
    victim.close();
  });

  it('does not leak internals in problem responses', async () => {
    const res = await httpsRequest(url('/v1/enrollments'), {
      ca: cp.ca,
      cert: cp.tls.cert,
      key: cp.tls.key,
      method: 'POST',
      body: '{',
    });
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.text).not.toMatch(/stack|sqlite|postgres|at \w+ \(/i);
  });
});
