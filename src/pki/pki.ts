import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Cluster } from '../cluster/index.js';
import type { Clock } from '../platform/index.js';
import type { Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { PkiAuditLog } from './audit-events.js';
import { ensureAuthorities } from './authorities.js';
import { announce, type PkiContext, type PkiSettings, type VehicleRegistry } from './context.js';
import { enroll, expireOverlap, markFirstUse, rotate } from './enrollment.js';
import { createClusterFanout } from './fanout.js';
import { createCertificateIssuer } from './issuer.js';
import { createFileKeyProvider, type KeyProvider } from './key-provider.js';
import {
  issueFactoryCertificate,
  issueOperatorCertificate,
  issueServerCertificate,
  provisionDevice,
  replaceDevice,
} from './provisioning.js';
import { type CredentialChange, RevocationCache } from './revocation-cache.js';
import { buildCrl, changeDeviceStatus, revokeCertificate, revokeDevice } from './revocation.js';
import type { CaRole } from './tables.js';

/** What createPki needs. */
export interface PkiOptions {
  db: Kysely<Database>;
  audit: PkiAuditLog;
  clock: Clock;
  log: Logger;
  dataDir: string;
  /** Development generates missing CAs; production requires them imported. */
  allowGenerate: boolean;
  publicBaseUrl: string;
  settings: PkiSettings;
  revocationPollSeconds: number;
  /** The process's cluster adapter: credential changes fan out through it. */
  cluster: Cluster;
  keys?: KeyProvider;
  vehicles: VehicleRegistry;
}

type Bound<F> = F extends (ctx: PkiContext, ...rest: infer A) => infer R ? (...rest: A) => R : never;

/** The PKI as one object: every operation bound to the shared context, plus start/stop of its sync loop. */
export interface Pki {
  readonly ctx: PkiContext;
  enroll: Bound<typeof enroll>;
  rotate: Bound<typeof rotate>;
  markFirstUse: Bound<typeof markFirstUse>;
  expireOverlap: Bound<typeof expireOverlap>;
  revokeCertificate: Bound<typeof revokeCertificate>;
  revokeDevice: Bound<typeof revokeDevice>;
  changeDeviceStatus: Bound<typeof changeDeviceStatus>;
  replaceDevice: Bound<typeof replaceDevice>;
  issueFactoryCertificate: Bound<typeof issueFactoryCertificate>;
  provisionDevice: Bound<typeof provisionDevice>;
  issueOperatorCertificate: Bound<typeof issueOperatorCertificate>;
  issueServerCertificate: Bound<typeof issueServerCertificate>;
  /** Applies committed credential changes here and announces them to other processes. */
  announce(changes: CredentialChange[]): Promise<void>;
  /** The CA's current CRL (DER), regenerated after each revocation and at half its validity. */
  crl(role: CaRole): Promise<ArrayBuffer>;
  /** Starts cross-process sync: the fan-out subscription (Redis in cluster mode), and the periodic reload. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** How often the revocation view is re-read whole, as the backstop of the incremental change-log reads. */
const FULL_RELOAD_MS = 5 * 60_000;

/** Builds the PKI: loads or generates the CAs, the issuer, the revocation fast path and its sync. */
export async function createPki(options: PkiOptions): Promise<Pki> {
  const keys = options.keys ?? createFileKeyProvider(join(options.dataDir, 'pki'));
  const authorities = await ensureAuthorities({
    db: options.db,
    keys,
    clock: options.clock,
    audit: options.audit,
    allowGenerate: options.allowGenerate,
  });
  const cache = new RevocationCache({ db: options.db, clock: options.clock });
  await cache.refresh();
  const ctx: PkiContext = {
    db: options.db,
    audit: options.audit,
    clock: options.clock,
    log: options.log,
    keys,
    authorities,
    issuer: createCertificateIssuer({ authorities, keys, publicBaseUrl: options.publicBaseUrl }),
    cache,
    fanout: createClusterFanout(options.cluster, options.log),
    settings: options.settings,
    vehicles: options.vehicles,
  };

  const crls = new Map<CaRole, { der: ArrayBuffer; staleAt: number }>();
  cache.onChange((change) => {
    if (change.kind === 'certificates-revoked' || change.kind === 'certificates-superseded') crls.clear();
  });
  let timer: NodeJS.Timeout | null = null;

  const bind =
    <A extends unknown[], R>(fn: (c: PkiContext, ...a: A) => R) =>
    (...a: A): R =>
      fn(ctx, ...a);
  return {
    ctx,
    enroll: bind(enroll),
    rotate: bind(rotate),
    markFirstUse: bind(markFirstUse),
    expireOverlap: bind(expireOverlap),
    announce: (changes) => announce(ctx, changes),
    revokeCertificate: bind(revokeCertificate),
    revokeDevice: bind(revokeDevice),
    changeDeviceStatus: bind(changeDeviceStatus),
    replaceDevice: bind(replaceDevice),
    issueFactoryCertificate: bind(issueFactoryCertificate),
    provisionDevice: bind(provisionDevice),
    issueOperatorCertificate: bind(issueOperatorCertificate),
    issueServerCertificate: bind(issueServerCertificate),
    async crl(role) {
      const cached = crls.get(role);
      if (cached && cached.staleAt > ctx.clock.now().getTime()) return cached.der;
      const built = await buildCrl(ctx, role);
      const half = (built.nextUpdate.getTime() - built.thisUpdate.getTime()) / 2;
      // Rebuilt at half its validity, or as soon as a rotation overlap ends and a certificate joins it.
      const staleAt = Math.min(
        built.thisUpdate.getTime() + half,
        built.nextOverlapEnd?.getTime() ?? Number.POSITIVE_INFINITY,
      );
      crls.set(role, { der: built.der, staleAt });
      return built.der;
    },
    async start() {
      // Another process's announcement only names rows: they are re-read from the database, never taken from Redis.
      await ctx.fanout.subscribe((names) => {
        cache
          .reloadNamed(names)
          .catch((err: unknown) => options.log.warn({ err }, 'reloading announced credential changes failed'));
      });
      // Announcements sent while Redis was away are lost: catch up from the database as soon as it is back.
      options.cluster.onReconnect(() => {
        cache.refresh().catch((err: unknown) => options.log.warn({ err }, 'revocation reload after reconnect failed'));
      });
      // The change log is read every interval (cheap: only what changed); the whole view only every few minutes.
      let lastFull = Date.now();
      timer = setInterval(() => {
        const full = Date.now() - lastFull >= FULL_RELOAD_MS;
        if (full) lastFull = Date.now();
        (full ? cache.refresh() : cache.poll()).catch((err: unknown) =>
          options.log.error({ err }, 'revocation view update failed; serving the last known view'),
        );
      }, options.revocationPollSeconds * 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await ctx.fanout.close();
    },
  };
}
