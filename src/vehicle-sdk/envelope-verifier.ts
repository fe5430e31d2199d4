import type { KeyObject } from 'node:crypto';
import { type EnvelopeClaims, paramsHash, parseCanonical, publicKeyFromJwk, type RefusalCode, type SignedEnvelope, verifyDetached } from './command-envelope.js';
import { type CounterStore, CounterWindow, MemoryCounterStore } from './counter-window.js';

/** A pinned command-verification key as the enrollment bundle delivers it (a JWK). */
export type PinnedKey = Record<string, unknown> & { kid?: unknown; x5c?: unknown };

/** The outcome of verifying one envelope on the vehicle. */
export type EnvelopeVerdict = { ok: true; claims: EnvelopeClaims } | { ok: false; code: RefusalCode; claims: Partial<EnvelopeClaims> | null };

/** How far the issuer's clock may run ahead of the vehicle's before an envelope counts as not yet valid. */
const FUTURE_SKEW_MS = 30_000;

/**
 * Verifies command envelopes on the vehicle, trusting nothing the network says: the signature against the
 * key set pinned at enrollment (never a key carried in the envelope), the vehicle and device binding, the
 * expiry on the vehicle's own clock, the parameter hash, and the counter window. Only then is the counter
 * recorded, so a refused envelope cannot burn a counter.
 */
export class EnvelopeVerifier {
  private readonly keys = new Map<string, KeyObject>();
  private readonly window: CounterWindow;

  constructor(private readonly options: { keys: PinnedKey[]; vehicleId: string; deviceId: string; counters?: CounterStore; now?: () => number; windowSize?: number }) {
    for (const jwk of options.keys) {
      if (typeof jwk.kid !== 'string' || jwk.use === 'enc') continue;
      try {
        const key = publicKeyFromJwk(jwk);
        if (key.asymmetricKeyType === 'ed25519') this.keys.set(jwk.kid, key);
      } catch { /* a key we cannot read is a key we do not trust */ }
    }
    this.window = new CounterWindow(options.counters ?? new MemoryCounterStore(), options.windowSize ?? 64);
  }

  /** The kids this verifier trusts. */
  kids(): string[] {
    return [...this.keys.keys()];
  }

  /** Verifies one envelope; on success the counter is recorded as used. */
  verify(envelope: SignedEnvelope): EnvelopeVerdict {
    const claims = parseCanonical(envelope?.signed) as Partial<EnvelopeClaims> | null;
    if (!claims || claims.v !== 1 || typeof envelope.sig !== 'string') return { ok: false, code: 'malformed', claims };
    const key = typeof claims.kid === 'string' ? this.keys.get(claims.kid) : undefined;
    if (!key) return { ok: false, code: 'unknown_key', claims };
    if (!verifyDetached(key, envelope.signed, envelope.sig)) return { ok: false, code: 'bad_signature', claims };
    const c = claims as EnvelopeClaims;
    if (c.vehicleId !== this.options.vehicleId) return { ok: false, code: 'wrong_vehicle', claims };
    if (c.deviceId !== this.options.deviceId) return { ok: false, code: 'wrong_device', claims };
    const now = (this.options.now ?? Date.now)();
    if (typeof c.expiresAt !== 'number' || now >= c.expiresAt) return { ok: false, code: 'expired', claims };
    if (typeof c.issuedAt !== 'number' || c.issuedAt > now + FUTURE_SKEW_MS) return { ok: false, code: 'not_yet_valid', claims };
    if (!c.params || typeof c.params !== 'object' || paramsHash(c.params) !== c.paramsHash) return { ok: false, code: 'params_mismatch', claims };
    const counter = this.window.check(c.counter);
    if (counter !== 'ok') return { ok: false, code: counter, claims };
    this.window.accept(c.counter);
    return { ok: true, claims: c };
  }
}
