import https from 'node:https';
import type { Static, TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { encode } from 'cbor2';
import {
  createCsr,
  type DeviceKey,
  type DeviceKeyAlgorithm,
  generateDeviceKey,
  importDeviceKey,
} from './credentials.js';
import { httpsRequest, type HttpsResponse } from './https.js';
import { retryAfterMs } from './retry-schedule.js';
import {
  type EnrollmentResult,
  EnrollmentResultSchema,
  type SignedTelemetry,
  type TelemetryReceipt,
  TelemetryReceiptSchema,
} from '../wire/index.js';

/**
 * What the gateway returns on enrollment and rotation: the wire contract in src/wire/, the same schema the
 * gateway's route serializes with. The SDK checks every bundle against it before using it.
 */
export type IssuedCredentials = EnrollmentResult;
export type { TelemetryReceipt };

/** A refusal from the gateway, carrying its problem+json code. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | null,
    readonly problem: unknown,
    /** The gateway's `Retry-After` in milliseconds (a busy 503), or null. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(`gateway answered ${status}${code ? ` ${code}` : ''}`);
    this.name = 'GatewayError';
  }
}

/** Credentials as a device stores them between restarts: the private key (PKCS#8 PEM) and what the gateway issued. */
export interface StoredCredentials {
  privateKeyPem: string;
  issued: IssuedCredentials;
}

/** The device's current credential set: its key and operational certificate. */
export interface DeviceCredentials {
  key: DeviceKey;
  issued: IssuedCredentials;
}

function expectStatus(res: HttpsResponse, status: number): unknown {
  if (res.status !== status) {
    const code = typeof res.json === 'object' && res.json !== null && 'code' in res.json ? String(res.json.code) : null;
    throw new GatewayError(res.status, code, res.json ?? res.text, retryAfterMs(res.headers['retry-after']));
  }
  return res.json;
}

const checks = {
  enrollment: TypeCompiler.Compile(EnrollmentResultSchema),
  receipt: TypeCompiler.Compile(TelemetryReceiptSchema),
};

/** The body of an expected answer, checked against its wire schema: a device never acts on a shape it does not know. */
function expectBody<T extends TSchema>(res: HttpsResponse, status: number, check: TypeCheck<T>): Static<T> {
  const body = expectStatus(res, status);
  if (!check.Check(body)) {
    const first = check.Errors(body).First();
    throw new GatewayError(res.status, 'ERR_SDK_UNEXPECTED_RESPONSE', {
      detail: `the gateway's answer does not match the wire contract at ${first?.path || '/'}: ${first?.message ?? ''}`,
    });
  }
  return body;
}

/**
 * The device side of the gateway: enroll with a factory certificate, then act and rotate with the
 * operational certificate. Holds no server code; the simulator and integrators use it as it is.
 */
export class GatewayClient {
  private agent: https.Agent | null = null;
  private telemetry: { token: string; until: number } | null = null;
  private commands: { token: string; until: number } | null = null;
  credentials: DeviceCredentials | null = null;

  constructor(
    private readonly options: { gatewayUrl: string; ca: string | string[]; keyAlgorithm?: DeviceKeyAlgorithm },
  ) {}

  /** Enrolls using the factory certificate and key; keeps the resulting credentials. */
  async enroll(
    factory: { cert: string; key: string },
    options: { deviceId?: string } = {},
  ): Promise<DeviceCredentials> {
    const key = await generateDeviceKey(this.options.keyAlgorithm);
    const csr = await createCsr(key);
    const res = await httpsRequest(`${this.options.gatewayUrl}/v1/enrollments`, {
      method: 'POST',
      ca: this.options.ca,
      cert: factory.cert,
      key: factory.key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ csr, ...(options.deviceId ? { deviceId: options.deviceId } : {}) }),
    });
    this.use({ key, issued: expectBody(res, 201, checks.enrollment) });
    return this.credentials as DeviceCredentials;
  }

  /** Takes up credentials stored by an earlier run (after a device restart), instead of enrolling again. */
  async resume(stored: StoredCredentials): Promise<DeviceCredentials> {
    this.use({ key: await importDeviceKey(stored.privateKeyPem), issued: stored.issued });
    return this.credentials as DeviceCredentials;
  }

  /** The current credentials in their storable form; keep them as secret as the key itself. */
  stored(): StoredCredentials {
    const { key, issued } = this.require();
    return { privateKeyPem: key.privateKeyPem, issued };
  }

  /** Renews with the current certificate; switches to the new credentials on success. */
  async rotate(): Promise<DeviceCredentials> {
    const current = this.require();
    const key = await generateDeviceKey(this.options.keyAlgorithm);
    const res = await this.request('POST', `/v1/devices/${current.issued.deviceId}/certificates`, {
      csr: await createCsr(key),
    });
    this.use({ key, issued: expectBody(res, 201, checks.enrollment) });
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

  /**
   * A certificate-bound telemetry token (client credentials with tls_client_auth), reused until shortly
   * before it expires. Pass `fresh` to fetch a new one.
   */
  async telemetryToken(fresh = false): Promise<string> {
    if (!fresh && this.telemetry && this.telemetry.until > Date.now()) return this.telemetry.token;
    const { issued } = this.require();
    const res = await this.send('POST', '/oauth/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: `device:${issued.deviceId}`,
        resource: 'urn:carapace:telemetry',
        scope: 'telemetry:write',
      }).toString(),
    });
    const t = expectStatus(res, 200) as { access_token: string; expires_in: number };
    // Renewed a little early so a batch never arrives with a token that expired on the way.
    this.telemetry = { token: t.access_token, until: Date.now() + Math.max(0, t.expires_in - 15) * 1000 };
    return t.access_token;
  }

  /**
   * A certificate-bound command-channel token (audience `urn:carapace:commands`, scope `commands:receive`,
   * 60 s), reused until 15 s before it expires. The channel sends a fresh one before the old one runs out.
   */
  async commandToken(fresh = false): Promise<{ token: string; expiresIn: number }> {
    if (!fresh && this.commands && this.commands.until > Date.now())
      return { token: this.commands.token, expiresIn: Math.round((this.commands.until - Date.now()) / 1000) + 15 };
    const { issued } = this.require();
    const res = await this.send('POST', '/oauth/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: `device:${issued.deviceId}`,
        resource: 'urn:carapace:commands',
        scope: 'commands:receive',
      }).toString(),
    });
    const t = expectStatus(res, 200) as { access_token: string; expires_in: number };
    this.commands = { token: t.access_token, until: Date.now() + Math.max(0, t.expires_in - 15) * 1000 };
    return { token: t.access_token, expiresIn: t.expires_in };
  }

  /**
   * The gateway URL and the TLS identity (trust anchors, certificate, key) for other channels such as the command
   * WebSocket.
   */
  tlsIdentity(): { gatewayUrl: string; ca: string | string[]; cert: string; key: string } {
    const { key, issued } = this.require();
    return {
      gatewayUrl: this.options.gatewayUrl,
      ca: this.options.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
    };
  }

  /**
   * Sends a batch of signed messages to the ingestion route (or the backfill route for messages recorded
   * offline), as JSON or CBOR, and returns the verdicts. A refused token is renewed once and the batch sent again: the
   * gateway reports messages it already stored as duplicates, so a retry never stores anything twice.
   */
  async sendTelemetry(
    messages: SignedTelemetry[],
    options: { backfill?: boolean; encoding?: 'json' | 'cbor' } = {},
  ): Promise<TelemetryReceipt> {
    const path = options.backfill ? '/v1/telemetry/backfill' : '/v1/telemetry';
    // Only the wire form: the signer's result also carries the message object, which the gateway refuses.
    const body =
      options.encoding === 'cbor'
        ? // Plain Uint8Arrays: the encoder would write a Buffer through its toJSON form.
          encode({
            messages: messages.map(({ signed, sig }) => ({
              signed: new TextEncoder().encode(signed),
              sig: new Uint8Array(Buffer.from(sig, 'base64url')),
            })),
          })
        : JSON.stringify({ messages: messages.map(({ signed, sig }) => ({ signed, sig })) });
    const post = async (fresh: boolean) =>
      this.send('POST', path, {
        headers: {
          'content-type': options.encoding === 'cbor' ? 'application/cbor' : 'application/json',
          authorization: `Bearer ${await this.telemetryToken(fresh)}`,
        },
        body,
      });
    let res = await post(false);
    if (res.status === 401) res = await post(true);
    return expectBody(res, 200, checks.receipt);
  }

  /** A raw request with the operational certificate over a kept-alive connection. */
  request(method: string, path: string, body?: unknown): Promise<HttpsResponse> {
    return this.send(method, path, {
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  private send(
    method: string,
    path: string,
    options: { headers: Record<string, string>; body?: string | Uint8Array },
  ): Promise<HttpsResponse> {
    const { key, issued } = this.require();
    this.agent ??= new https.Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: this.options.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
    });
    return httpsRequest(`${this.options.gatewayUrl}${path}`, {
      method,
      ca: this.options.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      agent: this.agent,
      headers: options.headers,
      body: options.body,
    });
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent?.destroy();
    this.agent = null;
  }

  private use(credentials: DeviceCredentials): void {
    this.close();
    this.telemetry = null;
    this.commands = null;
    this.credentials = credentials;
  }

  private require(): DeviceCredentials {
    if (!this.credentials) throw new Error('the device is not enrolled');
    return this.credentials;
  }
}
