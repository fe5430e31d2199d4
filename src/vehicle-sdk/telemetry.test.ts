import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { afterAll, describe, expect, it } from 'vitest';
import {
  canonicalMessage,
  FileSequenceStore,
  MemorySequenceStore,
  TelemetrySigner,
  type TelemetryMessage,
} from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'carapace-sdk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const identity = {
  deviceId: '5b0d7c4e-8a1f-4c9e-9a57-1f7c2b6e0a11',
  vehicleId: '0e4c1f9a-77b2-4d0e-8f3a-2c5d9b1e6f70',
  swVersion: '1.2.3',
  configId: 'cfg-7',
};

describe('RFC 8785 canonical JSON', () => {
  it('matches the RFC 8785 section 3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    ) as unknown;
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (RFC 8785 section 3.2.3)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Read the order from the text: JSON.parse would put the integer-like key "1" first again.
    const text = canonicalize(input) as string;
    const order = ['\\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) =>
      text.indexOf(`"${k}":`),
    );
    expect(order.every((pos, i) => pos > 0 && (i === 0 || pos > (order[i - 1] as number)))).toBe(true);
  });

  it('gives the same text for the same message whatever the key order', () => {
    const a: TelemetryMessage = {
      ...identity,
      bootId: 'b',
      seq: 1,
      ts: 1700000000000,
      payload: { kind: 'speed', kmh: 42.5 },
    };
    const b = JSON.parse(
      '{"payload":{"kmh":42.5,"kind":"speed"},"ts":1700000000000,"seq":1,"bootId":"b","configId":"cfg-7","swVersion":"1.2.3","vehicleId":"0e4c1f9a-77b2-4d0e-8f3a-2c5d9b1e6f70","deviceId":"5b0d7c4e-8a1f-4c9e-9a57-1f7c2b6e0a11"}',
    ) as TelemetryMessage;
    expect(canonicalMessage(a)).toBe(canonicalMessage(b));
    expect(canonicalMessage(a)).toBe(
      '{"bootId":"b","configId":"cfg-7","deviceId":"5b0d7c4e-8a1f-4c9e-9a57-1f7c2b6e0a11","payload":{"kind":"speed","kmh":42.5},"seq":1,"swVersion":"1.2.3","ts":1700000000000,"vehicleId":"0e4c1f9a-77b2-4d0e-8f3a-2c5d9b1e6f70"}',
    );
  });
});

describe('TelemetrySigner', () => {
  const pem = (type: 'ed25519' | 'ec') => {
    const { privateKey } =
      type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
    return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  };

  it.each(['ed25519', 'ec'] as const)('signs the canonical bytes verifiably (%s)', async (type) => {
    const key = pem(type);
    const signer = new TelemetrySigner({ identity, privateKeyPem: key, sequences: new MemorySequenceStore() });
    const out = await signer.sign({ kind: 'gear', gear: 'D' });
    expect(out.signed).toBe(canonicalMessage(out.message));
    const pub = createPublicKey(key);
    const sig = Buffer.from(out.sig, 'base64url');
    expect(sig.length).toBe(64);
    const ok =
      type === 'ec'
        ? verify('sha256', Buffer.from(out.signed), { key: pub, dsaEncoding: 'ieee-p1363' }, sig)
        : verify(null, Buffer.from(out.signed), pub, sig);
    expect(ok).toBe(true);
    const tampered = Buffer.from(out.signed.replace('"D"', '"R"'));
    expect(
      type === 'ec'
        ? verify('sha256', tampered, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)
        : verify(null, tampered, pub, sig),
    ).toBe(false);
  });

  it('numbers messages in call order and never reuses a number after a restart', async () => {
    const file = join(dir, 'seq');
    const key = pem('ed25519');
    const first = new TelemetrySigner({
      identity,
      privateKeyPem: key,
      sequences: new FileSequenceStore(file),
      reserve: 10,
    });
    const seqs = (await Promise.all(Array.from({ length: 15 }, () => first.sign({ kind: 'speed', kmh: 1 })))).map(
      (m) => m.message.seq,
    );
    expect(seqs).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    // The store holds the end of the reserved block, written before any number in it was used.
    expect(readFileSync(file, 'utf8').trim()).toBe('20');
    // A restart (a new signer, new boot) continues after the reserved block: a crash skips numbers, never repeats them.
    const second = new TelemetrySigner({
      identity,
      privateKeyPem: key,
      sequences: new FileSequenceStore(file),
      reserve: 10,
    });
    const next = await second.sign({ kind: 'speed', kmh: 1 });
    expect(next.message.seq).toBe(21);
    expect(next.message.bootId).not.toBe(first.bootId);
    expect(readFileSync(file, 'utf8').trim()).toBe('30');
  });

  it('refuses a corrupt sequence file instead of starting again from 1', async () => {
    const file = join(dir, 'corrupt');
    await new FileSequenceStore(file).save(5);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, 'garbage');
    const signer = new TelemetrySigner({
      identity,
      privateKeyPem: pem('ed25519'),
      sequences: new FileSequenceStore(file),
    });
    await expect(signer.sign({ kind: 'speed', kmh: 1 })).rejects.toThrow(/corrupt/);
  });
});

describe('importDeviceKey', () => {
  it.each(['Ed25519', 'P-256'] as const)(
    'loads a stored %s key so a restarted device can make CSRs again',
    async (algorithm) => {
      const { createCsr, generateDeviceKey, importDeviceKey } = await import('./index.js');
      const original = await generateDeviceKey(algorithm);
      const loaded = await importDeviceKey(original.privateKeyPem);
      expect(loaded.algorithm).toBe(algorithm);
      expect(await createCsr(loaded)).toMatch(/BEGIN CERTIFICATE REQUEST/);
    },
  );

  it('refuses keys the platform does not certify', async () => {
    const { importDeviceKey } = await import('./index.js');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    await expect(importDeviceKey(p384)).rejects.toThrow(/Ed25519 or P-256/);
  });
});
