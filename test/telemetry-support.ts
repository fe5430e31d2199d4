import type { TestCarapace } from '../src/testing/index.js';
import {
  type GatewayClient,
  httpsRequest,
  MemorySequenceStore,
  type SequenceStore,
  TelemetrySigner,
} from '../src/vehicle-sdk/index.js';

/** An enrolled device with a telemetry signer over its operational key. */
export async function telemetryDevice(
  cp: TestCarapace,
  serial: string,
  options: { algorithm?: 'Ed25519' | 'P-256'; sequences?: SequenceStore; now?: () => number } = {},
) {
  const client = await cp.enrolledDevice(serial, options.algorithm ?? 'Ed25519');
  return { client, signer: signerFor(client, options) };
}

/** A signer for an enrolled client; `now` defaults to the server's clock so FixedClock tests line up. */
export function signerFor(
  client: GatewayClient,
  options: { sequences?: SequenceStore; now?: () => number; deviceId?: string; vehicleId?: string } = {},
) {
  const { key, issued } = client.credentials!;
  return new TelemetrySigner({
    identity: {
      deviceId: options.deviceId ?? issued.deviceId,
      vehicleId: options.vehicleId ?? issued.vehicleId,
      swVersion: '4.2.0',
      configId: 'cfg-1',
    },
    privateKeyPem: key.privateKeyPem,
    sequences: options.sequences ?? new MemorySequenceStore(),
    now: options.now,
  });
}

/** Posts a raw body to an ingestion route with the client's certificate and (by default) its telemetry token. */
export async function postRaw(
  cp: TestCarapace,
  client: GatewayClient,
  body: unknown,
  options: { token?: string | null; path?: string } = {},
) {
  const { key, issued } = client.credentials!;
  const token = options.token === undefined ? await client.telemetryToken() : options.token;
  return httpsRequest(`${cp.addresses.gateway}${options.path ?? '/v1/telemetry'}`, {
    method: 'POST',
    ca: cp.ca,
    cert: issued.certificate,
    key: key.privateKeyPem,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Strips a signed message to its wire form. */
export const wire = (m: { signed: string; sig: string }) => ({ signed: m.signed, sig: m.sig });
