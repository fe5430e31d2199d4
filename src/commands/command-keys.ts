import { randomBytes, webcrypto } from 'node:crypto';
import type { Kysely } from 'kysely';
import { CarapaceError, type Clock } from '../platform/index.js';
import { x509 } from '../platform/index.js';
import type { CertificateAuthority, CommandVerificationKey, KeyProvider } from '../pki/index.js';
import { CA_KEY_ALGORITHM } from '../pki/index.js';
import { newCertificateSerial } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { CommandAuditLog } from './audit-events.js';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  canonicalJson,
  COMMAND_SIGNING_EKU,
  type EnvelopeClaims,
  EnvelopeClaimsSchema,
  type KeySetClaims,
  type SignedEnvelope,
} from '../wire/index.js';
import { activeDeviceIds } from '../pki/index.js';

export { COMMAND_SIGNING_EKU };
const KEY_CERT_DAYS = 730;

/** How far a command key's certificate is backdated, for vehicle clocks that lag behind (one hour). */
const CERT_BACKDATE_MS = 3_600_000;

/** A generated key with its public JWK and certificate, before it is stored. */
interface PreparedKey {
  kid: string;
  publicJwk: Record<string, string>;
  certificate: string | null;
  at: Date;
}

/** The platform's command keys: the current one signs; current and next are published for vehicles to pin. */
export interface CommandKeys {
  /** Signs envelope claims with the current key: its kid goes into the canonical bytes that are signed. */
  signEnvelope(
    claims: Omit<EnvelopeClaims, 'kid'>,
    executor?: Kysely<Database>,
  ): Promise<{ kid: string; signed: string; sig: string }>;
  /** The JWKS vehicles pin (current and next, each with its certificate chain). */
  published(): Promise<CommandVerificationKey[]>;
  /** Promotes next to current, retires the old current, and creates a new next. */
  rotate(actor: string): Promise<{ current: string; next: string }>;
  /** The published set signed for one vehicle as a key-set update (issued now, signed by the current key). */
  signKeySet(vehicleId: string, deviceId: string): Promise<SignedEnvelope>;
  /** Names the published set (its kids): a change means vehicles need an update. */
  version(): Promise<string>;
  /**
   * Withdraws a key that is no longer current (a compromised one): a published `next` is retired (and a new
   * next made), so key sets pushed from now on leave it out. Says how many devices' last receipt still trusts it.
   * Refused for the current key: rotate first.
   */
  withdraw(kid: string, actor: string): Promise<{ kid: string; changed: boolean; stillTrustedBy: number }>;
  /** How many active devices confirmed they trust the next key, of how many. */
  coverage(): Promise<{ next: string; active: number; withNext: number; without: string[] }>;
}

const refOf = (kid: string) => `command-${kid}`;
// The vehicle verifies with this schema (src/wire/commands.ts): the platform never signs what it would refuse.
const isClaims = TypeCompiler.Compile(EnvelopeClaimsSchema);

/**
 * Command keys behind the key provider: private halves stay with the provider (file, KMS, HSM), public
 * halves and their state live in `command_keys`. Each key is certified by the root CA with the
 * command-signing EKU, so a vehicle checks the chain instead of trusting a bare key on first use.
 */
export async function createCommandKeys(deps: {
  db: Kysely<Database>;
  keys: KeyProvider;
  clock: Clock;
  audit: CommandAuditLog;
  root: CertificateAuthority;
  allowGenerate: boolean;
  /** Called after a rotation committed (the dispatcher pushes the new set); a failure does not undo it. */
  afterRotate?: () => Promise<void>;
}): Promise<CommandKeys> {
  const { db, clock } = deps;
  const cache = new Map<string, webcrypto.CryptoKey>();

  /** A new key pair in the key provider, with its certificate from the root: not yet stored, so not published. */
  async function prepareKey(): Promise<PreparedKey> {
    const kid = randomBytes(8).toString('hex');
    const pair = await deps.keys.generate(refOf(kid), 'Ed25519');
    const jwk = await deps.keys.crypto.subtle.exportKey('jwk', pair.publicKey);
    const at = clock.now();
    const certificate = deps.root.signingKey ? await certify(kid, pair.publicKey, at) : null;
    const publicJwk = { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x), kid, alg: 'EdDSA', use: 'sig' };
    return { kid, publicJwk, certificate, at };
  }

  async function certify(kid: string, publicKey: webcrypto.CryptoKey, at: Date): Promise<string> {
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: newCertificateSerial(),
        subject: `CN=Carapace command key ${kid}, O=Carapace`,
        issuer: deps.root.certificate.subject,
        // Backdated: a vehicle whose clock lags the server's must not find a fresh next key "not yet valid" and
        // withdraw it, which would strand it at the following rotation.
        notBefore: new Date(at.getTime() - CERT_BACKDATE_MS),
        notAfter: new Date(
          Math.min(at.getTime() + KEY_CERT_DAYS * 86_400_000, deps.root.certificate.notAfter.getTime()),
        ),
        publicKey,
        signingKey: deps.root.signingKey!,
        signingAlgorithm: CA_KEY_ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([COMMAND_SIGNING_EKU], true),
        ],
      },
      deps.keys.crypto,
    );
    return Buffer.from(cert.rawData).toString('base64');
  }

  /** Stores (publishes) a prepared key within the caller's transaction, audited. */
  async function storeKey(trx: Kysely<Database>, key: PreparedKey, status: 'current' | 'next'): Promise<void> {
    await trx
      .insertInto('command_keys')
      .values({
        kid: key.kid,
        public_jwk: JSON.stringify(key.publicJwk),
        status,
        created_at: key.at.toISOString(),
        activated_at: status === 'current' ? key.at.toISOString() : null,
        retired_at: null,
        certificate: key.certificate,
      })
      .execute();
    await deps.audit.append(trx, {
      type: 'commands.key.created',
      actor: { type: 'system', id: null },
      object: { type: 'command_signing_key', id: key.kid },
      action: 'commands:key_create',
      decision: 'info',
      details: { status, certified: key.certificate !== null },
    });
  }

  async function createKey(status: 'current' | 'next'): Promise<string> {
    const key = await prepareKey();
    await db.transaction().execute((trx) => storeKey(trx, key, status));
    return key.kid;
  }

  const rows = () => db.selectFrom('command_keys').selectAll().where('status', 'in', ['current', 'next']).execute();
  const existing = await rows();
  if (!existing.some((r) => r.status === 'current')) {
    if (!deps.allowGenerate && existing.length === 0)
      throw new Error('no command signing key: run `carapace commands rotate-key` on an initialised deployment');
    await createKey('current');
  }
  if (!(await rows()).some((r) => r.status === 'next')) await createKey('next');

  /** The published keys: current and next, each with its certificate from the root. */
  async function published(): Promise<CommandVerificationKey[]> {
    return (await rows())
      .sort((a, b) => a.status.localeCompare(b.status))
      .map((r) => ({
        ...(JSON.parse(r.public_jwk) as CommandVerificationKey),
        ...(r.certificate ? { x5c: [r.certificate] } : {}),
      }));
  }

  async function privateKey(kid: string): Promise<webcrypto.CryptoKey> {
    const cached = cache.get(kid);
    if (cached) return cached;
    const key = await deps.keys.privateKey(refOf(kid), 'Ed25519');
    if (!key) throw new Error(`command key ${kid} is missing from the key provider`);
    cache.set(kid, key);
    return key;
  }

  return {
    async signEnvelope(claims, executor = db) {
      // Read per signature: a rotation by another process (the CLI) takes effect here at once. Inside a
      // transaction the caller passes it: on SQLite the outer handle would wait for the transaction to end.
      const current = await executor
        .selectFrom('command_keys')
        .select(['kid'])
        .where('status', '=', 'current')
        .orderBy('activated_at', 'desc')
        .executeTakeFirstOrThrow();
      const full: EnvelopeClaims = { ...claims, kid: current.kid };
      if (!isClaims.Check(full)) throw new Error('envelope claims do not match the wire contract');
      const signed = canonicalJson(full);
      const sig = await webcrypto.subtle.sign(
        { name: 'Ed25519' },
        await privateKey(current.kid),
        Buffer.from(signed, 'utf8'),
      );
      return { kid: current.kid, signed, sig: Buffer.from(sig).toString('base64url') };
    },
    published,
    async signKeySet(vehicleId, deviceId) {
      const keys = await published();
      const current = (await rows()).find((r) => r.status === 'current')!;
      const claims: KeySetClaims = {
        v: 1,
        kind: 'command-keys',
        vehicleId,
        deviceId,
        signerKid: current.kid,
        issuedAt: clock.now().getTime(),
        keys,
      };
      const signed = canonicalJson(claims);
      const sig = await webcrypto.subtle.sign(
        { name: 'Ed25519' },
        await privateKey(current.kid),
        Buffer.from(signed, 'utf8'),
      );
      return { signed, sig: Buffer.from(sig).toString('base64url') };
    },
    async version() {
      return (await rows())
        .map((r) => `${r.status}:${r.kid}`)
        .sort()
        .join(',');
    },
    async coverage() {
      const next = (await rows()).find((r) => r.status === 'next')!.kid;
      const active = await activeDeviceIds(db);
      const receipts = new Map(
        (await db.selectFrom('command_key_receipts').select(['device_id', 'kids']).execute()).map((r) => [
          r.device_id,
          JSON.parse(r.kids) as string[],
        ]),
      );
      const without = active.filter((id) => !(receipts.get(id) ?? []).includes(next));
      return { next, active: active.length, withNext: active.length - without.length, without };
    },
    async rotate(actor) {
      const at = clock.now().toISOString();
      const next = await db
        .selectFrom('command_keys')
        .select(['kid'])
        .where('status', '=', 'next')
        .executeTakeFirstOrThrow();
      // The new next key is published in the same transaction: no process ever sees (and pushes) a set without one.
      const upcoming = await prepareKey();
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('command_keys')
          .set({ status: 'retired', retired_at: at })
          .where('status', '=', 'current')
          .execute();
        await trx
          .updateTable('command_keys')
          .set({ status: 'current', activated_at: at })
          .where('kid', '=', next.kid)
          .execute();
        await deps.audit.append(trx, {
          type: 'commands.key.rotated',
          actor: { type: 'operator', id: actor },
          object: { type: 'command_signing_key', id: next.kid },
          action: 'commands:key_rotate',
          decision: 'info',
        });
        await storeKey(trx, upcoming, 'next');
      });
      const done = { current: next.kid, next: upcoming.kid };
      await deps.afterRotate?.().catch(() => undefined);
      return done;
    },
    async withdraw(kid, actor) {
      const row = await db
        .selectFrom('command_keys')
        .select(['kid', 'status'])
        .where('kid', '=', kid)
        .executeTakeFirst();
      if (!row) throw new CarapaceError('ERR_NOT_FOUND', 'no such command key', { kid });
      if (row.status === 'current')
        throw new CarapaceError('ERR_CONFLICT', 'the current command key cannot be withdrawn; rotate first', { kid });
      const changed = row.status === 'next';
      const receipts = await db.selectFrom('command_key_receipts').select(['kids']).execute();
      const stillTrustedBy = receipts.filter((r) => (JSON.parse(r.kids) as string[]).includes(kid)).length;
      await db.transaction().execute(async (trx) => {
        if (changed)
          await trx
            .updateTable('command_keys')
            .set({ status: 'retired', retired_at: clock.now().toISOString() })
            .where('kid', '=', kid)
            .where('status', '=', 'next')
            .execute();
        await deps.audit.append(trx, {
          type: 'commands.key.withdrawn',
          actor: { type: 'operator', id: actor },
          object: { type: 'command_signing_key', id: kid },
          action: 'commands:key_withdraw',
          decision: 'info',
          reason: changed ? 'withdrawn' : 'already_retired',
          details: { stillTrustedBy },
        });
      });
      if (changed) {
        await createKey('next');
        await deps.afterRotate?.().catch(() => undefined);
      }
      return { kid, changed, stillTrustedBy };
    },
  };
}
