import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import type { Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { PkiAuditLog } from './audit-events.js';
import type { Authorities } from './authorities.js';
import type { RevocationFanout } from './fanout.js';
import type { CertificateIssuer } from './issuer.js';
import type { KeyProvider } from './key-provider.js';
import type { CredentialChange, RevocationCache } from './revocation-cache.js';

/** Lifetimes and windows of the PKI, in seconds. */
export interface PkiSettings {
  operationalCertTtl: number;
  rotationOverlap: number;
  factoryCertTtl: number;
  operatorCertTtl: number;
  crlValidity: number;
}

/** A public JWK the vehicle pins to verify command envelopes: the wire contract in src/wire/enrollment.ts. */
export type { CommandVerificationKey } from '../wire/index.js';

/** Everything the PKI services share. Built once by createPki(). */
export interface PkiContext {
  db: Kysely<Database>;
  audit: PkiAuditLog;
  clock: Clock;
  log: Logger;
  keys: KeyProvider;
  authorities: Authorities;
  issuer: CertificateIssuer;
  cache: RevocationCache;
  fanout: RevocationFanout;
  settings: PkiSettings;
  /** The vehicle registry a unit is bound to (the vehicles module's, passed in at construction). */
  vehicles: VehicleRegistry;
}

/** The vehicles a unit can be bound to: found by id, or by VIN (created when new), in the caller's transaction. */
export interface VehicleRegistry {
  get(trx: Kysely<Database>, id: string): Promise<{ id: string; vin: string | null }>;
  findOrCreate(
    trx: Kysely<Database>,
    args: { vin: string | null; at: Date },
  ): Promise<{ vehicle: { id: string; vin: string | null }; created: boolean }>;
}

/** Applies committed changes locally and announces them to other processes. Call after the commit. */
export async function announce(
  ctx: Pick<PkiContext, 'cache' | 'fanout' | 'log'>,
  changes: CredentialChange[],
): Promise<void> {
  for (const change of changes) {
    ctx.cache.apply(change);
    // A fan-out failure must not undo a committed revocation; the periodic reload covers the gap.
    await ctx.fanout
      .publish(change)
      .catch((err: unknown) =>
        ctx.log.warn(
          { err, kind: change.kind },
          'credential change fan-out failed; other processes will see it at their next reload',
        ),
      );
  }
}
