import https from 'node:https';
import { createCsr, type DeviceKey, type DeviceKeyAlgorithm, generateDeviceKey } from './credentials.js';
import { httpsRequest, type HttpsResponse } from './https.js';

/**
 * What the gateway returns on enrollment and rotation. Declared here rather than imported from the server's
 * pki module: this is the wire contract, and the SDK must stand alone on a device.
 */
export interface IssuedCredentials {
  deviceId: string;
  vehicleId: string;
  serial: string;
  certificate: string;
  chain: string[];
  notBefore: string;
  notAfter: string;
  commandVerificationKeys: { keys: Array<Record<string, string>> };
}

/** A refusal from the gateway, carrying its problem+json code. */
export class GatewayError extends Error {
  constructor(readonly status: number, readonly code: string | null, readonly problem: unknown) {
    super(`gateway answered ${status}${code ? ` ${code}` : ''}`);
    this.name = 'GatewayError';
  }
}

/** The device's current credential set: its key and operational certificate. */
export interface DeviceCredentials {
  key: DeviceKey;
  issued: IssuedCredentials;
}

function expectStatus(res: HttpsResponse, status: number): unknown {
  if (res.status !== status) {
    const code = typeof res.json === 'object' && res.json !== null && 'code' in res.json ? String((res.json as { code: unknown }).code) : null;
    throw new GatewayError(res.status, code, res.json ?? res.text);
  }
  return res.json;
}

/**
 * The device side of the gateway: enroll with a factory certificate, then act and rotate with the
 * operational certificate. Holds no server code; the simulator and integrators use it as it is.
 */
export class GatewayClient {
  private agent: https.Agent | null = null;
  credentials: DeviceCredentials | null = null;

  constructor(private readonly options: { gatewayUrl: string; ca: string | string[]; keyAlgorithm?: DeviceKeyAlgorithm }) {}

  /** Enrolls using the factory certificate and key; keeps the resulting credentials. */
  async enroll(factory: { cert: string; key: string }, options: { deviceId?: string } = {}): Promise<DeviceCredentials> {
    const key = await generateDeviceKey(this.options.keyAlgorithm);
    const csr = await createCsr(key);
    const res = await httpsRequest(`${this.options.gatewayUrl}/v1/enrollments`, {
      method: 'POST', ca: this.options.ca, cert: factory.cert, key: factory.key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ csr, ...(options.deviceId ? { deviceId: options.deviceId } : {}) }),
    });
    this.use({ key, issued: expectStatus(res, 201) as IssuedCredentials });
    return this.credentials as DeviceCredentials;
  }

  /** Renews with the current certificate; switches to the new credentials on success. */
  async rotate(): Promise<DeviceCredentials> {
    const current = this.require();
    const key = await generateDeviceKey(this.options.keyAlgorithm);
    const res = await this.request('POST', `/v1/devices/${current.issued.deviceId}/certificates`, { csr: await createCsr(key) });
    this.use({ key, issued: expectStatus(res, 201) as IssuedCredentials });
    return this.credentials as DeviceCredentials;
  }

  /** The device's own record as the gateway sees it. */
  async self(): Promise<Record<string, unknown>> {
    const res = await this.request('GET', `/v1/devices/${this.require().issued.deviceId}`);
    return expectStatus(res, 200) as Record<string, unknown>;
  }

  /** A fresh single-use claim code for the head unit's screen, so the buyer can claim the vehicle in the app. */
  async claimCode(): Promise<{ code: string; expiresAt: string }> {
    const res = await this.request('POST', '/v1/device/claim-code');
    return expectStatus(res, 201) as { code: string; expiresAt: string };
  }

  /** A raw request with the operational certificate over a kept-alive connection. */
  request(method: string, path: string, body?: unknown): Promise<HttpsResponse> {
    const { key, issued } = this.require();
    this.agent ??= new https.Agent({ keepAlive: true, maxSockets: 1, ca: this.options.ca, cert: issued.certificate, key: key.privateKeyPem });
    return httpsRequest(`${this.options.gatewayUrl}${path}`, {
      method, ca: this.options.ca, cert: issued.certificate, key: key.privateKeyPem, agent: this.agent,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent?.destroy();
    this.agent = null;
  }

  private use(credentials: DeviceCredentials): void {
    this.close();
    this.credentials = credentials;
  }

  private require(): DeviceCredentials {
    if (!this.credentials) throw new Error('the device is not enrolled');
    return this.credentials;
  }
}
