import type { Config } from '../config/index.js';
import { createAuditLog, type AuditLog } from '../audit/index.js';
import { type Clock, systemClock } from '../platform/index.js';
import type { Logger } from '../platform/index.js';
import { join } from 'node:path';
import { type Auth, createAuth } from '../auth/index.js';
import {
  createDirectory,
  createInvitations,
  createSecretBox,
  type Directory,
  type Invitations,
} from '../identity/index.js';
import { createPki, type KeyProvider, type Pki } from '../pki/index.js';
import { createMemoryFailureCounter, createRedisFailureCounter, revokeAccountTokens } from '../auth/index.js';
import {
  createDecisionPoint,
  createEntityLoader,
  type DecisionPoint,
  type EntityLoader,
  loadPolicySet,
  type PolicySet,
  schemaActions,
} from '../policy/index.js';
import {
  type Cases,
  type Claims,
  createCases,
  createClaims,
  createFleetGroups,
  createRelationshipStore,
  createVehicleAccess,
  type FleetGroups,
  type RelationshipStore,
  type VehicleAccess,
} from '../relationships/index.js';

/** Authorization: the validated policy set, its decision point, the entity loader and the relationship services. */
export interface Authorization {
  policySet: PolicySet;
  decisions: DecisionPoint;
  load: EntityLoader;
  actions: Set<string>;
  access: VehicleAccess;
  cases: Cases;
  fleet: FleetGroups;
  claims: Claims;
}
import { openStorage, type Storage } from '../storage/index.js';
import { migrateDatabase } from './schema.js';
import { findOrCreateVehicle, findVehicleByVin, getVehicle } from '../vehicles/index.js';
import { createTelemetry, type Telemetry } from '../telemetry/index.js';
import { type Commands, createCommands, createJobsEndWithOwnership } from '../commands/index.js';

/** The platform's long-lived parts, shared by the listeners and the CLI. */
export interface Platform {
  config: Config;
  storage: Storage;
  audit: AuditLog;
  pki: Pki;
  directory: Directory;
  invitations: Invitations;
  relationships: RelationshipStore;
  /** The policy set, decision point and relationship services behind the public API's authorization. */
  authorization: Authorization;
  auth: Auth;
  telemetry: Telemetry;
  /** Remote commands: catalog, jobs, signing keys, the dispatcher. */
  commands: Commands;
  clock: Clock;
  log: Logger;
  close(): Promise<void>;
}

/** Opens storage, applies migrations, and loads (or in development, creates) the PKI. */
export async function createPlatform(
  config: Config,
  options: { log: Logger; clock?: Clock; keys?: KeyProvider; sqliteFile?: string },
): Promise<Platform> {
  const clock = options.clock ?? systemClock;
  // An invalid policy set refuses to start, before anything is opened.
  const policySet = loadPolicySet(config.policy.dir ?? undefined);
  const storage = await openStorage({
    url: config.database.url,
    schema: config.database.schema,
    dataDir: config.dataDir,
    sqliteFile: options.sqliteFile,
  });
  try {
    await migrateDatabase(storage.db, { schema: storage.schema });
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
      vehicles: { get: getVehicle, findOrCreate: findOrCreateVehicle },
    });
    const secrets = createSecretBox(join(config.dataDir, 'pki', 'secret-box.key'));
    const sessions = { revokeAll: revokeAccountTokens };
    const directory = createDirectory({ db: storage.db, audit, clock, secrets, sessions });
    const invitations = createInvitations({
      db: storage.db,
      audit,
      clock,
      directory,
      ttlSeconds: config.auth.invitationTtl,
    });
    const relationships = createRelationshipStore({ db: storage.db, audit, clock });
    const auth = await createAuth({ config, db: storage.db, audit, clock, log: options.log, secrets });
    const deps = { db: storage.db, audit, clock, relationships, vehicles: { findByVin: findVehicleByVin } };
    // A transfer ends the old owner's queued jobs in its own transaction: the commands module's reaction, as a port.
    const cascades = [createJobsEndWithOwnership({ audit, clock })];
    const claimCounter = config.redis.url ? createRedisFailureCounter(config.redis.url) : createMemoryFailureCounter();
    const authorization = {
      policySet,
      decisions: createDecisionPoint(policySet),
      load: createEntityLoader({ db: storage.db, clock }),
      actions: schemaActions(policySet),
      access: createVehicleAccess({ ...deps, cascades }),
      cases: createCases(deps),
      fleet: createFleetGroups(deps),
      claims: createClaims({
        ...deps,
        counter: claimCounter,
        limits: {
          perVehicle: config.claims.failuresPerVehicle,
          perAccount: config.claims.failuresPerAccount,
          windowSeconds: config.claims.failureWindow,
          codeTtlSeconds: config.claims.codeTtl,
        },
      }),
    };
    const telemetry = createTelemetry({
      db: storage.db,
      audit,
      clock,
      pki,
      settings: config.telemetry,
      redisUrl: config.redis.url,
      log: options.log,
    });
    const commands = await createCommands({
      db: storage.db,
      audit,
      clock,
      log: options.log,
      config,
      pki,
      decisions: authorization.decisions,
      load: authorization.load,
      isQuarantined: (deviceId) => telemetry.quarantine.isQuarantined(deviceId),
    });
    return {
      config,
      storage,
      audit,
      pki,
      directory,
      invitations,
      relationships,
      auth,
      authorization,
      telemetry,
      commands,
      clock,
      log: options.log,
      async close() {
        await commands.close();
        await telemetry.close();
        await claimCounter.close();
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
