import { generateKeyPairSync, verify } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { ed25519Signature, hmacSignature, publicKeyOf, publishedKey, signedContent } from '../wire/index.js';
import { retryDelayMs } from './delivery.js';
import { newSecret } from './subscriptions.js';

describe('Standard Webhooks signing', () => {
  it("matches the specification's published v1 test vector", () => {
    // From the Standard Webhooks reference test suite.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const content = signedContent('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(hmacSignature(secret, content)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs with a fresh secret what the reference library verifies, and nothing else', () => {
    const secret = newSecret();
    const body = '{"id":"msg_1","type":"webhook.ping"}';
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': hmacSignature(secret, signedContent('msg_1', ts, body)),
    };
    expect(new Webhook(secret).verify(body, headers)).toEqual({ id: 'msg_1', type: 'webhook.ping' });
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow();
  });

  it('v1a is a plain Ed25519 signature of the signed content under the published key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const content = signedContent('msg_2', 1700000000, '{}');
    const sig = ed25519Signature(privateKey, content);
    expect(sig).toMatch(/^v1a,/);
    const key = publicKeyOf(publishedKey(publicKey));
    expect(verify(null, Buffer.from(content), key, Buffer.from(sig.slice(4), 'base64'))).toBe(true);
    expect(verify(null, Buffer.from(`${content} `), key, Buffer.from(sig.slice(4), 'base64'))).toBe(false);
  });
});

describe('retry backoff', () => {
  const s = { retryBaseMs: 1000, retryMaxMs: 60_000 };
  it('doubles the ceiling per attempt, draws below it (full jitter), never under half the base, capped', () => {
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, s, () => 0.999))).toEqual([999, 1998, 3996, 7992]);
    expect(retryDelayMs(3, s, () => 0)).toBe(500);
    expect(retryDelayMs(20, s, () => 1)).toBe(60_000);
    expect(retryDelayMs(2, s, () => 0.25)).toBe(500);
    expect(retryDelayMs(4, s, () => 0.5)).toBe(4000);
  });
});
