import { generateKeyPairSync, sign } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace } from '../../src/testing/index.js';
import { canonicalJson, EnvelopeVerifier, MemoryCounterStore, paramsHash } from '../../src/vehicle-sdk/index.js';

describe('a vehicle whose clock is behind its command keys (issue 18 item 5)', () => {
  let cp: TestCarapace;
  beforeAll(async () => {
    cp = await startTestCarapace({ database: 'sqlite', overrides: { detect: { enabled: false } } });
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('trusts the keys once its clock is corrected, without a new verifier or key set', async () => {
    const device = await cp.enrolledDevice('TCU-FAULT-CLOCK');
    const { issued } = device.credentials!;
    const keys = issued.commandVerificationKeys.keys;
    const der = (keys[0] as { x5c: string[] }).x5c[0]!;
    const notBefore = Date.parse(new X509Certificate(Buffer.from(der, 'base64')).validFrom);
    // The vehicle's clock starts a day behind the certificates' notBefore, then is corrected (NTP, GNSS).
    let now = notBefore - 86_400_000;
    const verifier = new EnvelopeVerifier({
      counters: new MemoryCounterStore(),
      keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      trustAnchor: cp.ca,
      now: () => now,
    });
    const kid = String(keys[0]!.kid);
    // An envelope naming the platform's key but signed by another: which refusal it gets shows whether the key
    // counts (bad_signature) or not (unknown_key), without a real command.
    const forged = () => {
      const params = {};
      const signed = canonicalJson({
        v: 1,
        kid,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        jobId: 'j',
        command: 'lock',
        params,
        paramsHash: paramsHash(params),
        issuedAt: now,
        expiresAt: now + 30_000,
        counter: 1,
        decisionHash: 'h',
      });
      const key = generateKeyPairSync('ed25519').privateKey;
      return { signed, sig: sign(null, Buffer.from(signed), key).toString('base64url') };
    };
    expect(verifier.kids()).toEqual([]);
    expect(verifier.verify(forged())).toMatchObject({ ok: false, code: 'unknown_key' });
    now = Date.now();
    expect(verifier.kids()).toHaveLength(keys.length);
    expect(verifier.verify(forged())).toMatchObject({ ok: false, code: 'bad_signature' });
    device.close();
  });
});
