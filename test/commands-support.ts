import WebSocket from 'ws';
import { type GatewayClient, parseCanonical, sha256 } from '../src/vehicle-sdk/index.js';

export {
  CommandChannel,
  EnvelopeVerifier,
  GatewayClient,
  MemoryAnswerStore,
  MemoryCounterStore,
  paramsHash,
  signAck,
  VehicleModel,
  type AckClaims,
} from '../src/vehicle-sdk/index.js';

/** The counter and hash of a captured envelope, as a device computes them for its acknowledgement. */
export function parseCanonicalForTests(signed: string): { counter: number; hash: string } {
  const claims = parseCanonical(signed) as { counter: number };
  return { counter: claims.counter, hash: sha256(signed) };
}

/** Opens the command channel with the device's certificate; resolves once open, and records how it closes. */
export async function channel(device: GatewayClient) {
  const { ca, cert, key, gatewayUrl } = device.tlsIdentity();
  const { token } = await device.commandToken(true);
  const ws = new WebSocket(`${gatewayUrl.replace('https:', 'wss:')}/v1/commands/channel`, {
    ca,
    cert,
    key,
    headers: { authorization: `Bearer ${token}` },
  });
  const envelopes: Array<{ signed: string; sig: string }> = [];
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as { type: string; envelope: { signed: string; sig: string } };
    if (m.type === 'command') envelopes.push(m.envelope);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, envelopes, closed };
}
