import { connect, type TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { CommandChannel, EnvelopeVerifier, GatewayError, type GatewayClient } from '../src/vehicle-sdk/index.js';
import { MemoryAnswerStore, MemoryCounterStore, VehicleModel } from '../src/vehicle-sdk/index.js';

/**
 * Admission control on the vehicle gateway (issue 18 item 6): with one slot per path, a token request whose body has
 * not arrived yet holds the slot, so the next one is refused at once with 503 ERR_GATEWAY_BUSY and Retry-After,
 * over real mTLS; the refusals are audited as one aggregate, and the slot comes back when the first request ends.
 */
describe.each(testEngines())('gateway admission control on %s', (engine) => {
  let cp: TestCarapace;
  let device: GatewayClient;

  beforeAll(async () => {
    cp = await startTestCarapace({
      database: engine,
      overrides: { connections: { gatewayMaxConcurrentOpens: 1, gatewayBusyRetryAfter: 3 } },
    });
    device = await cp.enrolledDevice('TCU-ADM-1');
  });
  afterAll(async () => {
    device.close();
    await cp.stop();
  });

  /** A token request over its own mTLS connection that sends its headers but holds its body back. */
  async function stalledTokenRequest(): Promise<{ socket: TLSSocket; finish: () => Promise<string> }> {
    const { cert, key } = device.tlsIdentity();
    const port = Number(new URL(cp.addresses.gateway).port);
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: cp.ca, cert, key });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: `device:${device.credentials!.issued.deviceId}`,
      resource: 'urn:carapace:commands',
      scope: 'commands:receive',
    }).toString();
    socket.write(
      `POST /oauth/token HTTP/1.1\r\nhost: localhost:${port}\r\ncontent-type: application/x-www-form-urlencoded\r\n` +
        `content-length: ${body.length}\r\nconnection: close\r\n\r\n`,
    );
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const ended = new Promise<string>((resolve) => socket.once('close', () => resolve(answer)));
    // The server has read the headers (and taken the slot) once the request is routed: give it that moment.
    await new Promise((r) => setTimeout(r, 300));
    return { socket, finish: () => (socket.write(body), ended) };
  }

  it('refuses beyond the bound with 503 and Retry-After, audits in aggregate, and admits again after', async () => {
    const held = await stalledTokenRequest();
    expect(cp.listeners.gateway.admission.inFlight('/oauth/token')).toBe(1);

    const refused = await device.commandToken(true).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({ status: 503, code: 'ERR_GATEWAY_BUSY', retryAfterMs: 3000 });
    expect((refused as GatewayError).problem).toMatchObject({ type: 'urn:carapace:problem:gateway-busy' });
    // A second refusal in the same interval is counted, not audited on its own.
    await expect(device.commandToken(true)).rejects.toMatchObject({ status: 503 });

    // The held request completes normally: admission refuses, it never changes what it admitted.
    expect(await held.finish()).toMatch(/^HTTP\/1\.1 200 /);
    expect(cp.listeners.gateway.admission.inFlight('/oauth/token')).toBe(0);
    const { token } = await device.commandToken(true);
    expect(token.length).toBeGreaterThan(20);

    await cp.listeners.gateway.admission.flush();
    const events = await cp.platform.audit.list({ type: 'gateway.admission.refused' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      decision: 'deny',
      reason: 'gateway_busy',
      details: { path: '/oauth/token', count: 2, limit: 1 },
    });
  });

  it('gives the channel-opening slot back once the channel is set up, so open channels never block new ones', async () => {
    const other = await cp.enrolledDevice('TCU-ADM-2');
    const channels = [device, other].map((gateway) => {
      const { issued } = gateway.credentials!;
      return new CommandChannel({
        gateway,
        verifier: new EnvelopeVerifier({
          keys: issued.commandVerificationKeys.keys,
          vehicleId: issued.vehicleId,
          deviceId: issued.deviceId,
          counters: new MemoryCounterStore(),
        }),
        answered: new MemoryAnswerStore(),
        execute: (c) => new VehicleModel().execute(c.command, c.params),
        reconnect: false,
      });
    });
    try {
      // One slot, two channels one after the other: the first holds its channel, not the slot.
      for (const c of channels) await c.connect();
      expect(channels.every((c) => c.open)).toBe(true);
      // The last channel's slot comes back once the server has set it up (a moment after the client saw it open).
      const freed = async () => {
        for (let i = 0; i < 50 && cp.listeners.gateway.admission.inFlight('/v1/commands/channel') > 0; i++)
          await new Promise((r) => setTimeout(r, 50));
        return cp.listeners.gateway.admission.inFlight('/v1/commands/channel');
      };
      expect(await freed()).toBe(0);
    } finally {
      channels.forEach((c) => c.close());
      other.close();
    }
  });

  it('a renewal sent in time is still checked: an invalid one closes the channel with 4401 at once', async () => {
    // The grace for a renewal waiting to be checked never lets an unchecked or bad token keep a channel.
    const { gatewayUrl, ca, cert, key } = device.tlsIdentity();
    const { token } = await device.commandToken(true);
    const ws = new WebSocket(`${gatewayUrl.replace(/^https:/, 'wss:')}/v1/commands/channel`, {
      ca,
      cert,
      key,
      headers: { authorization: `Bearer ${token}` },
    });
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const closed = new Promise<[number, string]>((resolve) =>
      ws.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    ws.send(JSON.stringify({ type: 'token', token: `${token.slice(0, -4)}AAAA` }));
    expect(await closed).toEqual([4401, 'the renewed command token is not valid']);
  });
});
