import { type KeyObject, X509Certificate } from 'node:crypto';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  COMMAND_SIGNING_EKU,
  type EnvelopeClaims,
  EnvelopeClaimsSchema,
  type KeySetClaims,
  KeySetClaimsSchema,
  paramsHash,
  parseCanonical,
  publicKeyFromJwk,
  type RefusalCode,
  type SignedEnvelope,
  SignedEnvelopeSchema,
  verifyDetached,
} from '../wire/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeDurably } from './durable-file.js';
import { type CounterStore, CounterWindow, FileCounterStore } from './counter-window.js';

/** A pinned command-verification key as the enrollment bundle delivers it (a JWK). */
export type PinnedKey = Record<string, unknown> & { kid?: unknown; x5c?: unknown };

/** The outcome of verifying one envelope on the vehicle. */
export type EnvelopeVerdict =
  { ok: true; claims: EnvelopeClaims } | { ok: false; code: RefusalCode; claims: Partial<EnvelopeClaims> | null };

/** How far the issuer's clock may run ahead of the vehicle's before an envelope counts as not yet valid. */
const FUTURE_SKEW_MS = 30_000;

// The platform signs with the same schemas (src/wire/), so anything that fails them is malformed, not a new shape.
const isEnvelope = TypeCompiler.Compile(SignedEnvelopeSchema);
const isClaims = TypeCompiler.Compile(EnvelopeClaimsSchema);
const isKeySet = TypeCompiler.Compile(KeySetClaimsSchema);

/** The outcome of a key-set update on the vehicle. */
export type KeySetVerdict =
  | { ok: true; kids: string[]; issuedAt: number }
  | {
      ok: false;
      code: 'malformed' | 'no_trust_anchor' | 'untrusted_signer' | 'bad_signature' | 'wrong_vehicle' | 'stale';
    };

/**
 * Verifies command envelopes on the vehicle, trusting nothing the network says: the signature against the
 * key set pinned at enrollment (never a key carried in the envelope), the vehicle and device binding, the
 * expiry on the vehicle's own clock, the parameter hash, and the counter window. Only then is the counter
 * recorded, so a refused envelope cannot burn a counter.
 */
/** A trusted key and the validity of its certificate (unbounded without a trust anchor). */
interface TrustedKey {
  key: KeyObject;
  validFrom: number;
  validTo: number;
}

export class EnvelopeVerifier {
  private keys = new Map<string, TrustedKey>();
  private readonly window: CounterWindow;
  private readonly root: X509Certificate | null;
  /** When the key set in force was issued (0: the set pinned at enrollment). */
  private keySetIssuedAt = 0;

  /**
   * `keys` is the set pinned at enrollment or rotation. With `trustAnchor` (the root CA PEM the device
   * already trusts), a key counts only if its `x5c` certificate is signed by that root, valid when used, carries
   * the command-signing EKU and certifies exactly this key: keys chain to our CA, not trust on first use.
   */
  constructor(
    private readonly options: {
      keys: PinnedKey[];
      vehicleId: string;
      deviceId: string;
      /**
       * Where the accepted counters live: `stateDir` keeps them in `<stateDir>/envelope-counters.json` (what a
       * vehicle should do), `counters` takes any store (`new MemoryCounterStore()` only in tests). One is required.
       */
      stateDir?: string;
      counters?: CounterStore;
      now?: () => number;
      windowSize?: number;
      trustAnchor?: string;
    },
  ) {
    const root = options.trustAnchor ? new X509Certificate(options.trustAnchor) : null;
    this.root = root;
    // A key set pushed later (and kept under stateDir) replaces the one pinned at enrollment after a restart.
    const stored = options.stateDir ? readKeySet(join(options.stateDir, 'command-keys.json')) : null;
    this.keys = this.trusted(stored?.keys ?? options.keys);
    this.keySetIssuedAt = stored?.issuedAt ?? 0;
    this.window = new CounterWindow(counterStoreOf(options), options.windowSize ?? 64);
  }

  /**
   * The keys of `jwks` this vehicle trusts: Ed25519, and certified by the root when one is configured. Validity in
   * time is not judged here but at each use (`usable`): a key dropped once because the vehicle's clock was behind
   * its certificate's notBefore was never trusted again, even after the clock was corrected (issue 18).
   */
  private trusted(jwks: readonly PinnedKey[]): Map<string, TrustedKey> {
    const out = new Map<string, TrustedKey>();
    for (const jwk of jwks) {
      if (typeof jwk.kid !== 'string' || jwk.use === 'enc') continue;
      try {
        const key = publicKeyFromJwk(jwk);
        if (key.asymmetricKeyType !== 'ed25519') continue;
        const validity = this.root ? certifiedByRoot(jwk, key, this.root) : { validFrom: -Infinity, validTo: Infinity };
        if (validity) out.set(jwk.kid, { key, ...validity });
      } catch {
        /* a key we cannot read is a key we do not trust */
      }
    }
    return out;
  }

  /** The key `kid` names when it is trusted and its certificate is valid now, on the vehicle's clock. */
  private usable(keys: Map<string, TrustedKey>, kid: string): KeyObject | null {
    const entry = keys.get(kid);
    const now = (this.options.now ?? Date.now)();
    return entry && now >= entry.validFrom && now <= entry.validTo ? entry.key : null;
  }

  /**
   * Applies a signed key-set update: it must be for this vehicle, newer than the set in force, and signed by one of
   * its own keys whose certificate chains to the trust anchor with the command-signing EKU. The listed keys that
   * pass the same check replace the set; any key not listed is withdrawn. Without a trust anchor nothing is taken.
   */
  updateKeys(update: SignedEnvelope): KeySetVerdict {
    if (!this.root) return { ok: false, code: 'no_trust_anchor' };
    const claims = isEnvelope.Check(update) ? (parseCanonical(update.signed) as Partial<KeySetClaims> | null) : null;
    if (!claims || !isKeySet.Check(claims)) return { ok: false, code: 'malformed' };
    if (claims.vehicleId !== this.options.vehicleId || claims.deviceId !== this.options.deviceId)
      return { ok: false, code: 'wrong_vehicle' };
    const keys = this.trusted(claims.keys);
    const signer = this.usable(keys, claims.signerKid);
    if (!signer) return { ok: false, code: 'untrusted_signer' };
    if (!verifyDetached(signer, update.signed, update.sig)) return { ok: false, code: 'bad_signature' };
    // Older than the set in force: a replayed update that would bring back a withdrawn key.
    if (claims.issuedAt < this.keySetIssuedAt) return { ok: false, code: 'stale' };
    if (this.options.stateDir)
      writeDurably(
        join(this.options.stateDir, 'command-keys.json'),
        JSON.stringify({ issuedAt: claims.issuedAt, keys: claims.keys }),
      );
    this.keys = keys;
    this.keySetIssuedAt = claims.issuedAt;
    return { ok: true, kids: this.kids(), issuedAt: claims.issuedAt };
  }

  /** The kids this verifier trusts now (certified, and valid on the vehicle's clock at this moment). */
  kids(): string[] {
    return [...this.keys.keys()].filter((kid) => this.usable(this.keys, kid));
  }

  /** Verifies one envelope; on success the counter is recorded as used. */
  verify(envelope: SignedEnvelope): EnvelopeVerdict {
    const claims = isEnvelope.Check(envelope)
      ? (parseCanonical(envelope.signed) as Partial<EnvelopeClaims> | null)
      : null;
    if (!claims || !isClaims.Check(claims)) return { ok: false, code: 'malformed', claims };
    const key = this.usable(this.keys, claims.kid);
    if (!key) return { ok: false, code: 'unknown_key', claims };
    if (!verifyDetached(key, envelope.signed, envelope.sig)) return { ok: false, code: 'bad_signature', claims };
    const c = claims;
    if (c.vehicleId !== this.options.vehicleId) return { ok: false, code: 'wrong_vehicle', claims };
    if (c.deviceId !== this.options.deviceId) return { ok: false, code: 'wrong_device', claims };
    const now = (this.options.now ?? Date.now)();
    if (now >= c.expiresAt) return { ok: false, code: 'expired', claims };
    if (c.issuedAt > now + FUTURE_SKEW_MS) return { ok: false, code: 'not_yet_valid', claims };
    if (paramsHash(c.params) !== c.paramsHash) return { ok: false, code: 'params_mismatch', claims };
    const counter = this.window.check(c.counter);
    if (counter !== 'ok') return { ok: false, code: counter, claims };
    this.window.accept(c.counter);
    return { ok: true, claims: c };
  }
}

/** A key set kept by an earlier update, or null. */
function readKeySet(file: string): { issuedAt: number; keys: PinnedKey[] } | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as { issuedAt?: unknown; keys?: unknown };
    return typeof v.issuedAt === 'number' && Array.isArray(v.keys) ? { issuedAt: v.issuedAt, keys: v.keys } : null;
  } catch {
    return null;
  }
}

/**
 * The verifier's counter store. There is no silent in-memory default: a vehicle that forgets its counters on a
 * restart executes a re-sent envelope again, so a caller names a directory or a store (memory only on purpose).
 */
function counterStoreOf(options: { stateDir?: string; counters?: CounterStore }): CounterStore {
  if (options.counters) return options.counters;
  if (options.stateDir) return new FileCounterStore(join(options.stateDir, 'envelope-counters.json'));
  throw new Error(
    'EnvelopeVerifier needs a persistent counter store: pass stateDir (or counters: new MemoryCounterStore() in tests)',
  );
}

/**
 * The validity window of the key's x5c certificate when it is the root's, for command signing, and for this very
 * key; null otherwise. The window is checked at each use, against the clock of that moment.
 */
function certifiedByRoot(
  jwk: PinnedKey,
  key: KeyObject,
  root: X509Certificate,
): { validFrom: number; validTo: number } | null {
  const der = Array.isArray(jwk.x5c) && typeof jwk.x5c[0] === 'string' ? jwk.x5c[0] : null;
  if (!der) return null;
  const cert = new X509Certificate(Buffer.from(der, 'base64'));
  if (!cert.checkIssued(root) || !cert.verify(root.publicKey)) return null;
  if (!(cert.keyUsage ?? []).includes(COMMAND_SIGNING_EKU)) return null;
  const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' });
  if (!spki(cert.publicKey).equals(spki(key))) return null;
  return { validFrom: Date.parse(cert.validFrom), validTo: Date.parse(cert.validTo) };
}
