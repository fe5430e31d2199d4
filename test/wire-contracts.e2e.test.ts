import { createPublicKey } from 'node:crypto';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../src/platform/index.js';
import { MESSAGE_SCHEMA, PAYLOAD_SCHEMAS } from '../src/telemetry/index.js';
import {
  caCertificate,
  leafCertificate,
  startTestCarapace,
  type TestCarapace,
  testEngines,
} from '../src/testing/index.js';
import {
  AckClaimsSchema,
  EnrollmentResultSchema,
  EnvelopeClaimsSchema,
  EnvelopeVerifier,
  MemoryCounterStore,
  GatewayClient,
  GatewayError,
  MemorySequenceStore,
  paramsHash,
  signAck,
  signMessage,
  TelemetryMessageSchema,
  TelemetrySigner,
  validateTelemetryMessage,
} from '../src/vehicle-sdk/index.js';
import * as wire from '../src/wire/index.js';

/**
 * A gateway that answers every request with `answer` (tokens excepted), over real TLS: it plays a server whose
 * route re-declared a wire schema and let it drift.
 */
async function fakeGateway() {
  const ca = await caCertificate({ name: 'CN=Fake Gateway Root' });
  const leaf = await leafCertificate({ issuer: ca, subject: 'CN=127.0.0.1', server: ['127.0.0.1'] });
  const app = Fastify({ https: { key: leaf.key.pem, cert: leaf.pem } });
  const state = { answer: { status: 200, body: {} as unknown } };
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  app.post('/oauth/token', () => ({ access_token: 't', token_type: 'Bearer', expires_in: 60 }));
  app.all('/*', (_req, reply) => reply.code(state.answer.status).send(state.answer.body));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return Object.assign(state, { url, ca: ca.cert.toString('pem'), close: () => app.close() });
}

// The wire contracts are declared once (src/wire/). These tests cross the boundary both ways: what the SDK
// builds, the server accepts; what the server sends, the SDK accepts; and a field that drifts fails on both
// sides. A copy re-declared on one side and changed makes one of them fail.
describe.each(testEngines())('wire contracts between the platform and the vehicle SDK (%s)', (database) => {
  let cp: TestCarapace;
  let device: GatewayClient;
  const clock = new FixedClock(Date.now());

  let fake: Awaited<ReturnType<typeof fakeGateway>>;

  beforeAll(async () => {
    cp = await startTestCarapace({ database, clock });
    device = await cp.enrolledDevice('TCU-WIRE-1');
    fake = await fakeGateway();
  });
  afterAll(async () => {
    device.close();
    await fake.close();
    await cp.stop();
  });

  it('the enrollment result the gateway sends passes the shared schema the SDK checks it with', () => {
    const issued = device.credentials!.issued;
    expect(TypeCompiler.Compile(EnrollmentResultSchema).Check(issued)).toBe(true);
    expect(issued.commandVerificationKeys.keys.length).toBeGreaterThan(0);
  });

  it('a drifted enrollment field fails the server schema (serialization) and the SDK (refuses the bundle)', async () => {
    const issued = device.credentials!.issued;
    const { serial, ...rest } = issued;
    const drifted = { ...rest, serialNumber: serial };
    expect(TypeCompiler.Compile(EnrollmentResultSchema).Check(drifted)).toBe(false);
    // Server side: a route serializing with the shared schema cannot send the drifted shape.
    const app = Fastify();
    app.get('/bundle', { schema: { response: { 200: EnrollmentResultSchema } } }, () => drifted);
    const res = await app.inject({ method: 'GET', url: '/bundle' });
    expect(res.statusCode).toBe(500);
    expect(res.body).toMatch(/serial/);
    await app.close();
    // SDK side: a gateway answering with the drifted shape is refused before the device uses it.
    const unit = await cp.factoryUnit('TCU-WIRE-2');
    const sdk = new GatewayClient({ gatewayUrl: fake.url, ca: fake.ca });
    fake.answer = { status: 201, body: drifted };
    const err = await sdk.enroll(unit).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'ERR_SDK_UNEXPECTED_RESPONSE' });
    expect(JSON.stringify((err as GatewayError).problem)).toMatch(/serial/);
    expect(sdk.credentials).toBeNull();
  });

  it('a drifted telemetry receipt is refused by the SDK', async () => {
    const sdk = new GatewayClient({ gatewayUrl: fake.url, ca: fake.ca });
    await sdk.resume(device.stored());
    fake.answer = {
      status: 200,
      body: { batchId: 'b', accepted: 1, duplicates: 0, rejected: 0, verdicts: [{ index: 0 }] },
    };
    const err = await sdk.sendTelemetry([{ signed: '{}', sig: 'x' }]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_SDK_UNEXPECTED_RESPONSE' });
    sdk.close();
  });

  it('a message the SDK builds passes the gateway; a drifted one fails both sides', async () => {
    const { issued, key } = device.credentials!;
    const signer = new TelemetrySigner({
      identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: '1.0.0', configId: 'cfg' },
      privateKeyPem: key.privateKeyPem,
      sequences: new MemorySequenceStore(),
    });
    const good = await signer.sign({ kind: 'speed', kmh: 0 });
    expect(validateTelemetryMessage(JSON.parse(good.signed)).ok).toBe(true);
    const receipt = await device.sendTelemetry([good]);
    expect(receipt.verdicts.map((v) => v.verdict)).toEqual(['accepted']);

    // `kmh` renamed on one side: the SDK refuses to sign it, and the gateway rejects it when it arrives signed.
    const drifted = { kind: 'speed', speedKmh: 0 } as never;
    await expect(signer.sign(drifted)).rejects.toThrow(/not a valid telemetry message/);
    const forced = signMessage({ ...good.message, seq: good.message.seq + 1, payload: drifted }, key.privateKeyPem);
    const refused = await device.sendTelemetry([forced]);
    expect(refused.verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'invalid_schema' });
    // The gateway validates with the wire schemas themselves, not with copies.
    expect(MESSAGE_SCHEMA).toBe(wire.MESSAGE_SCHEMA);
    expect(PAYLOAD_SCHEMAS).toBe(wire.PAYLOAD_SCHEMAS);
    expect(TypeCompiler.Compile(TelemetryMessageSchema).Check(good.message)).toBe(true);
  });

  it('an envelope the platform signs passes the SDK; the platform refuses to sign a drifted one', async () => {
    const { issued } = device.credentials!;
    const params = { on: true };
    const claims = {
      v: 1 as const,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      jobId: crypto.randomUUID(),
      command: 'climate',
      params,
      paramsHash: paramsHash(params),
      issuedAt: clock.now().getTime(),
      expiresAt: clock.now().getTime() + 30_000,
      counter: 5_000,
      decisionHash: 'h',
    };
    const verifier = () =>
      new EnvelopeVerifier({
        counters: new MemoryCounterStore(),
        keys: issued.commandVerificationKeys.keys,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        trustAnchor: cp.ca,
        now: () => clock.now().getTime(),
      });
    const signed = await cp.platform.commands.keys.signEnvelope(claims);
    const envelope = { signed: signed.signed, sig: signed.sig };
    expect(verifier().verify(envelope)).toMatchObject({ ok: true, claims: { command: 'climate' } });
    // The frame is closed too: an envelope with an extra member is not one the platform sends.
    expect(verifier().verify({ ...envelope, kid: signed.kid } as never)).toMatchObject({ code: 'malformed' });

    // `counter` as a string on the server side: it will not sign it, and a vehicle calls such claims malformed.
    const drifted = { ...claims, counter: '5001' } as never;
    await expect(cp.platform.commands.keys.signEnvelope(drifted)).rejects.toThrow(/wire contract/);
    expect(TypeCompiler.Compile(EnvelopeClaimsSchema).Check({ ...claims, kid: 'k', counter: '5001' })).toBe(false);
    const forged = { signed: wire.canonicalJson({ ...claims, kid: signed.kid, counter: '5001' }), sig: signed.sig };
    expect(verifier().verify(forged)).toMatchObject({ ok: false, code: 'malformed' });
  });

  it('an ack the SDK signs passes the dispatcher; a drifted one is malformed on both sides', async () => {
    const { issued, key } = device.credentials!;
    const conn = {
      deviceId: issued.deviceId,
      vehicleId: issued.vehicleId,
      certificateKey: createPublicKey(issued.certificate),
      certificateSerial: issued.serial,
      context: null,
      send: () => undefined,
      close: () => undefined,
      probe: async () => false,
    };
    const ack = {
      v: 1 as const,
      jobId: crypto.randomUUID(),
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      envelopeHash: 'x'.repeat(43),
      counter: 1,
      result: 'executed' as const,
      code: null,
      at: clock.now().getTime(),
    };
    const dispatcher = cp.platform.commands.dispatcher;
    // Well-formed and authentic: refused only because no such job exists.
    expect(await dispatcher.acknowledge(conn, signAck(ack, key.privateKeyPem))).toBe('unknown_job');
    const drifted = { ...ack, result: 'done' } as never;
    expect(TypeCompiler.Compile(AckClaimsSchema).Check(drifted)).toBe(false);
    expect(await dispatcher.acknowledge(conn, signAck(drifted, key.privateKeyPem))).toBe('malformed');
    const renamed = { ...ack, job: ack.jobId } as never;
    expect(await dispatcher.acknowledge(conn, signAck(renamed, key.privateKeyPem))).toBe('malformed');
  });
});
