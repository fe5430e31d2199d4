import type { Config } from '../config/index.js';
import { createAuditLog, type AuditLog } from '../audit/index.js';
import { type Clock, systemClock } from '../platform/clock.js';
import type { Logger } from '../platform/log.js';
import { join } from 'node:path';
import { type Auth, createAuth } from '../auth/index.js';
import { createDirectory, createInvitations, createSecretBox, type Directory, type Invitations } from '../identity/index.js';
import { createPki, type KeyProvider, type Pki } from '../pki/index.js';
import { createRelationshipStore, type RelationshipStore } from '../relationships/index.js';
import { migrateToLatest, openStorage, type Storage } from '../storage/index.js';
import { createTelemetry, type Telemetry } from '../telemetry/index.js';

/** The platform's long-lived parts, shared by the listeners and the CLI. */
export interface Platform {
  config: Config;
  storage: Storage;
  audit: AuditLog;
  pki: Pki;
  directory: Directory;
  invitations: Invitations;
  relationships: RelationshipStore;
  auth: Auth;
  telemetry: Telemetry;
  clock: Clock;
  log: Logger;
  close(): Promise<void>;
}

/** Opens storage, applies migrations, and loads (or in development, creates) the PKI. */
export async function createPlatform(config: Config, options: { log: Logger; clock?: Clock; keys?: KeyProvider; sqliteFile?: string }): Promise<Platform> {
  const clock = options.clock ?? systemClock;
  const storage = await openStorage({ url: config.database.url, schema: config.database.schema, dataDir: config.dataDir, sqliteFile: options.sqliteFile });
  try {
    await migrateToLatest(storage.db, { schema: storage.schema });
    const audit = createAuditLog({ db: storage.db, clock });
    const pki = await createPki({
      db: storage.db,
      audit,
      clock,
      log: options.log,
      dataDir: config.dataDir,
      allowGenerate: config.mode === 'development',
      publicBaseUrl: config.publicBaseUrl,
      settings: {
        operationalCertTtl: config.pki.operationalCertTtl,
        rotationOverlap: config.pki.rotationOverlap,
        factoryCertTtl: config.pki.factoryCertTtl,
        operatorCertTtl: config.pki.operatorCertTtl,
        crlValidity: config.pki.crlValidity,
      },
      revocationPollSeconds: config.pki.revocationPollInterval,
      redisUrl: config.redis.url,
      keys: options.keys,
    });
    const secrets = createSecretBox(join(config.dataDir, 'pki', 'secret-box.key'));
    const directory = createDirectory({ db: storage.db, audit, clock, secrets });
    const invitations = createInvitations({ db: storage.db, audit, clock, directory, ttlSeconds: config.auth.invitationTtl });
    const relationships = createRelationshipStore({ db: storage.db, audit, clock });
    const auth = await createAuth({ config, db: storage.db, audit, clock, log: options.log, secrets });
    const telemetry = createTelemetry({ db: storage.db, audit, clock, pki, settings: config.telemetry, redisUrl: config.redis.url, log: options.log });
    return {
      config, storage, audit, pki, directory, invitations, relationships, auth, telemetry, clock, log: options.log,
      async close() {
        await telemetry.close();
        await auth.close();
        await pki.stop();
        await storage.close();
      },
    };
  } catch (err) {
    await storage.close();
    throw err;
  }
}
