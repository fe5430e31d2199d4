import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { foreignCa, signLeaf, testKey } from '../src/testing/index.js';
import { rawRequest } from '../src/testing/index.js';
import { type GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';

describe.each(testEngines())('admin plane and listener separation (%s)', (database) => {
  let cp: TestCarapace;
  let device: GatewayClient;

  beforeAll(async () => {
    cp = await startTestCarapace({ database });
    device = await cp.enrolledDevice('TCU-ADM-1');
  });
  afterAll(async () => {
    device.close();
    await cp.stop();
  });

  const asOperator = (path: string, method = 'GET', body?: string) =>
    httpsRequest(`${cp.addresses.admin}${path}`, {
      method,
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
      headers: body ? { 'content-type': 'application/json' } : {},
      body,
    });

  it('binds the admin plane to loopback by default', () => {
    expect(cp.config.listeners.admin.host).toBe('127.0.0.1');
    expect((cp.listeners.admin.app.server.address() as { address: string }).address).toBe('127.0.0.1');
  });

  it('serves health and readiness on every listener', async () => {
    for (const base of [cp.addresses.public, cp.addresses.gateway, cp.addresses.admin]) {
      expect((await httpsRequest(`${base}/healthz`, { ca: cp.ca })).json).toEqual({ status: 'ok' });
      const ready = (await httpsRequest(`${base}/readyz`, { ca: cp.ca })).json as Record<string, unknown>;
      const { details, ...rest } = ready;
      expect(rest).toEqual({
        status: 'ready',
        checks: { database: true, certificateAuthorities: true, revocationView: true },
      });
      // The admin plane alone adds the detection engine's state; the public API and the gateway show none.
      if (base === cp.addresses.admin) {
        expect(details).toMatchObject({ detect: { enabled: true, failing: false } });
        // Without a certificate: whether detection keeps up, never what it found nor its error text.
        const detect = (details as Record<string, Record<string, unknown>>).detect!;
        for (const hidden of ['findingsRaised', 'findingsUpdated', 'evaluated', 'lastError', 'node'])
          expect(detect).not.toHaveProperty(hidden);
      } else expect(details).toBeUndefined();
    }
  });

  it('requires an operator certificate and audits each refusal', async () => {
    const none = await httpsRequest(`${cp.addresses.admin}/admin/v1/devices/${device.credentials!.issued.deviceId}`, {
      ca: cp.ca,
    });
    expect(none.json).toMatchObject({ status: 401, code: 'ERR_CLIENT_CERT_REQUIRED' });
    const { key, issued } = device.credentials!;
    const asDevice = await httpsRequest(`${cp.addresses.admin}/admin/v1/revocations`, {
      method: 'POST',
      ca: cp.ca,
      cert: `${issued.certificate}\n${issued.chain[0]}`,
      key: key.privateKeyPem,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: issued.deviceId, reason: 'keyCompromise' }),
    });
    expect(asDevice.status).toBe(401);
    const evil = await foreignCa();
    const k = await testKey();
    const forged = await signLeaf({
      issuer: evil.cert,
      issuerKey: evil.key.pair.privateKey,
      subjectKey: k,
      uris: ['urn:carapace:operator:admin'],
    });
    expect(
      (await httpsRequest(`${cp.addresses.admin}/admin/v1/audit-events`, { ca: cp.ca, cert: forged, key: k.pem }))
        .status,
    ).toBe(401);
    const refusals = await cp.platform.audit.list({ type: 'admin.request.refused' });
    expect(refusals.map((e) => e.reason)).toEqual(expect.arrayContaining(['no_client_certificate', 'wrong_issuer']));
    // The device was not revoked by any of this.
    expect((await device.self()).status).toBe('active');
  });

  it('refuses a revoked operator certificate', async () => {
    const issued = await cp.platform.pki.issueOperatorCertificate({
      name: 'temp',
      csrPem: null,
      actor: { type: 'system', id: null },
    });
    await cp.platform.operators.directory.bindCertificate(
      { type: 'system', id: null },
      { name: 'temp', serial: issued.serial, role: 'viewer' },
    );
    const call = () =>
      httpsRequest(`${cp.addresses.admin}/admin/v1/audit-events?limit=1`, {
        ca: cp.ca,
        cert: issued.certificatePem,
        key: issued.privateKeyPem as string,
      });
    expect((await call()).status).toBe(200);
    await cp.platform.pki.revokeCertificate({
      serial: issued.serial,
      reason: 'affiliationChanged',
      actor: { type: 'operator', id: 'admin' },
      context: null,
    });
    expect((await call()).json).toMatchObject({ code: 'ERR_CLIENT_CERT_REVOKED' });
  });

  it('never serves admin routes on the public listener or the gateway', async () => {
    const body = JSON.stringify({ deviceId: device.credentials!.issued.deviceId, reason: 'keyCompromise' });
    const pub = await httpsRequest(`${cp.addresses.public}/admin/v1/revocations`, {
      method: 'POST',
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(pub.status).toBe(404);
    const gw = await device.request('POST', '/admin/v1/revocations', {
      deviceId: device.credentials!.issued.deviceId,
      reason: 'keyCompromise',
    });
    expect(gw.status).toBe(404);
    expect((await device.self()).status).toBe('active');
  });

  it('refuses path and method variants of admin routes alike', async () => {
    const id = device.credentials!.issued.deviceId;
    const body = JSON.stringify({ deviceId: id, reason: 'keyCompromise' });
    const variants = [
      '/ADMIN/v1/revocations',
      '/admin/v1/revocations/',
      '/admin/v1/./revocations',
      '/admin/v1/%2e/revocations',
      '/admin/v1/%2E%2E/v1/revocations',
      '/admin/V1/revocations',
      '/admin//v1/revocations',
      '/admin/v1/revocations;x',
      '/admin/v1/revocations%00',
      '/admin/v1/revocations%2f',
      '/admin/v1/Revocations',
    ];
    const { key, issued } = device.credentials!;
    for (const path of ['/admin/v1/revocations', ...variants]) {
      // Without an operator certificate every spelling gets the same 401, routed or not.
      const anonymous = await rawRequest(cp.addresses.admin, path, { method: 'POST', ca: cp.ca, body });
      expect(anonymous.status, path).toBe(401);
      const asDevice = await rawRequest(cp.addresses.admin, path, {
        method: 'POST',
        ca: cp.ca,
        cert: `${issued.certificate}\n${issued.chain[0]}`,
        key: key.privateKeyPem,
        body,
      });
      expect(asDevice.status, path).toBe(401);
      // On the public listener and the gateway, no spelling reaches an admin route.
      expect((await rawRequest(cp.addresses.public, path, { method: 'POST', ca: cp.ca, body })).status, path).toBe(404);
    }
    // Even an operator reaches only the exact route: variants are not normalized into it.
    for (const path of variants) {
      const res = await rawRequest(cp.addresses.admin, path, {
        method: 'POST',
        ca: cp.ca,
        cert: cp.operatorTls.cert,
        key: cp.operatorTls.key,
        body,
      });
      expect(res.status, path).toBe(404);
    }
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      expect((await asOperator('/admin/v1/revocations', method, body)).status, method).toBe(404);
    }
    expect((await device.self()).status).toBe('active');
  });

  it('rejects unknown fields instead of ignoring them (mass assignment)', async () => {
    const id = device.credentials!.issued.deviceId;
    const res = await asOperator(
      `/admin/v1/devices/${id}/status`,
      'POST',
      JSON.stringify({ status: 'quarantined', reason: 'x', vehicleId: 'other' }),
    );
    expect(res.json).toMatchObject({ status: 400, code: 'ERR_VALIDATION', field: 'body.vehicleId' });
    expect((await device.self()).status).toBe('active');
  });

  it('lists audit events for investigation', async () => {
    const res = await asOperator(
      `/admin/v1/audit-events?typePrefix=pki.device.&objectId=${device.credentials!.issued.deviceId}`,
    );
    expect(res.status).toBe(200);
    const events = (res.json as { events: Array<{ type: string }> }).events;
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['pki.device.enrolled', 'pki.device.provisioned']),
    );
    expect((await asOperator('/admin/v1/audit-events?limit=abc')).status).toBe(400);
  });

  it('speaks TLS 1.2 or higher only', async () => {
    const attempt = await new Promise<string>((resolve) => {
      const s = connect({
        host: '127.0.0.1',
        port: Number(new URL(cp.addresses.public).port),
        ca: cp.ca,
        servername: 'localhost',
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
      });
      s.once('secureConnect', () => {
        resolve('connected');
        s.destroy();
      });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(attempt).not.toBe('connected');
  });
});
