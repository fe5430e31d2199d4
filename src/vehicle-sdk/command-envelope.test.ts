import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileAnswerStore } from './answer-store.js';
import {
  canonicalJson,
  paramsHash,
  publicKeyFromJwk,
  type SignedEnvelope,
  verifyDetached,
} from './command-envelope.js';
import { CounterWindow, FileCounterStore, MemoryCounterStore } from './counter-window.js';
import { EnvelopeVerifier } from './envelope-verifier.js';

describe('command envelope primitives', () => {
  it('verifies the RFC 8032 Ed25519 test vector 1 and refuses a flipped bit', () => {
    const key = publicKeyFromJwk({
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex').toString('base64url'),
    });
    const sig = Buffer.from(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      'hex',
    );
    expect(verifyDetached(key, '', sig.toString('base64url'))).toBe(true);
    sig[0] = (sig[0] ?? 0) ^ 1;
    expect(verifyDetached(key, '', sig.toString('base64url'))).toBe(false);
  });

  it('canonicalizes the RFC 8785 example', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as unknown;
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('accepts a counter once, out of order within the window, never below it', () => {
    const w = new CounterWindow(new MemoryCounterStore(), 8);
    for (const c of [5, 3, 4]) {
      expect(w.check(c)).toBe('ok');
      w.accept(c);
    }
    expect(w.check(4)).toBe('replayed');
    w.accept(20);
    expect(w.check(12)).toBe('counter_too_old');
    expect(w.check(13)).toBe('ok');
    expect(w.check(0)).toBe('counter_too_old');
  });
});

describe('EnvelopeVerifier', () => {
  const pair = generateKeyPairSync('ed25519');
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig' };
  const now = 1_800_000_000_000;
  const envelope = (over: Record<string, unknown> = {}, key = pair.privateKey): SignedEnvelope => {
    const params = { on: true };
    const signed = canonicalJson({
      v: 1,
      kid: 'k1',
      vehicleId: 'v1',
      deviceId: 'd1',
      jobId: 'j1',
      command: 'climate',
      params,
      paramsHash: paramsHash(params),
      issuedAt: now,
      expiresAt: now + 30_000,
      counter: 1,
      decisionHash: 'h',
      ...over,
    });
    return { signed, sig: sign(null, Buffer.from(signed), key).toString('base64url') };
  };
  const verifier = (extra: Partial<ConstructorParameters<typeof EnvelopeVerifier>[0]> = {}) =>
    new EnvelopeVerifier({
      counters: new MemoryCounterStore(),
      keys: [jwk],
      vehicleId: 'v1',
      deviceId: 'd1',
      now: () => now,
      ...extra,
    });

  it('accepts a good envelope and refuses each way of getting it wrong', () => {
    expect(verifier().verify(envelope()).ok).toBe(true);
    expect(verifier().verify(envelope({}, generateKeyPairSync('ed25519').privateKey))).toMatchObject({
      code: 'bad_signature',
    });
    expect(verifier().verify(envelope({ kid: 'other' }))).toMatchObject({ code: 'unknown_key' });
    expect(verifier().verify(envelope({ deviceId: 'd2' }))).toMatchObject({ code: 'wrong_device' });
    expect(verifier().verify(envelope({ expiresAt: now }))).toMatchObject({ code: 'expired' });
    expect(verifier().verify(envelope({ issuedAt: now + 60_000 }))).toMatchObject({ code: 'not_yet_valid' });
    expect(verifier().verify(envelope({ params: { on: false } }))).toMatchObject({ code: 'params_mismatch' });
    const e = envelope();
    expect(verifier().verify({ signed: ` ${e.signed}`, sig: e.sig })).toMatchObject({ code: 'malformed' });
  });

  it('does not burn a counter on a refused envelope', () => {
    const v = verifier();
    expect(v.verify(envelope({ counter: 7, expiresAt: now }))).toMatchObject({ code: 'expired' });
    expect(v.verify(envelope({ counter: 7 })).ok).toBe(true);
    expect(v.verify(envelope({ counter: 7 }))).toMatchObject({ code: 'replayed' });
  });
});

describe('the vehicle keeps its replay state across restarts', () => {
  it('refuses to build a verifier without a counter store, and a file store survives a restart', () => {
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43), kid: 'k' };
    expect(() => new EnvelopeVerifier({ keys: [jwk], vehicleId: 'v1', deviceId: 'd1' })).toThrow(/stateDir/);
    const dir = mkdtempSync(join(tmpdir(), 'carapace-sdk-'));
    try {
      const window = () => new CounterWindow(new FileCounterStore(join(dir, 'envelope-counters.json')), 64);
      window().accept(9);
      expect(window().check(9)).toBe('replayed');
      const ack = { signed: '{"v":1}', sig: 'c2ln' };
      new FileAnswerStore(join(dir, 'answered-acks.json')).put('h1', ack);
      expect(new FileAnswerStore(join(dir, 'answered-acks.json')).get('h1')).toEqual(ack);
      expect(new FileAnswerStore(join(dir, 'answered-acks.json')).get('h2')).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
