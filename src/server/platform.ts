import type { Config } from '../config/index.js';
import {
  type AuditEvidence,
  createAuditEvidence,
  createAuditLog,
  type AuditLog,
  tailAuditEvents,
  countFlaggedDenials,
} from '../audit/index.js';
import { assertNoFaultPoints, type Clock, systemClock } from '../platform/index.js';
import type { Logger } from '../platform/index.js';
import type { PlatformAuditEvent } from './audit-events.js';
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
import { createClusterFailureCounter, revokeAccountTokens } from '../auth/index.js';
import { type Cluster, createCluster } from '../cluster/index.js';
import {
  createDecisionPoint,
  createEntityCache,
  type EntityCache,
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
  /** What request decisions read through: the entity cache, current as of the change counter. */
  cache: EntityCache;
  actions: Set<string>;
  access: VehicleAccess;
  cases: Cases;
  fleet: FleetGroups;
  claims: Claims;
}
import { openStorage, readChangeCounter, type Storage } from '../storage/index.js';
import { createSiemExport, type SiemExport } from '../siem/index.js';
import { createOutbound, type Outbound, type OutboundInjection } from '../outbound/index.js';
import { createDetection, type DetectionEngine, loadDetectionRules } from '../detect/index.js';
import { migrateDatabase } from './schema.js';
import { createOperators, type Operators } from '../operators/index.js';
import { createAuthorizationFacts } from './authorization-facts.js';
import { findOrCreateVehicle, findVehicleByVin, getVehicle } from '../vehicles/index.js';
import { createTelemetry, type Telemetry } from '../telemetry/index.js';
import {
  type Commands,
  createCommands,
  createJobsEndWithOwnership,
  DELEGABLE_COMMANDS,
  STEP_UP_COMMANDS,
} from '../commands/index.js';
import { createInvestigator } from '../investigation/index.js';
import { createIncidents, type Incidents, loadPlaybooks } from '../incidents/index.js';
import {
  countDecisions,
  createMetrics,
  createTracing,
  healthGauges,
  type Metrics,
  type Tracing,
} from '../observability/index.js';
import type { Webhooks } from '../webhooks/index.js';
import { wireWebhooks } from './webhook-wiring.js';
import { createVersionUsage, type VersionUsage } from '../inventory/index.js';

/** Metrics and traces of this node. */
export interface Observability {
  metrics: Metrics;
  tracing: Tracing;
}

/** The platform's long-lived parts, shared by the listeners and the CLI. */
export interface Platform {
  config: Config;
  storage: Storage;
  audit: AuditLog<PlatformAuditEvent>;
  /** The audit trail's Merkle tree: sealer, signed checkpoints, proofs. */
  evidence: AuditEvidence;
  /** OCSF export of the sealed trail to the configured SIEM sinks (`audit.export.*`); started with the listeners. */
  siem: SiemExport;
  /** The one outbound HTTP layer (`outbound.*`): every call to a URL outside the platform goes through it. */
  outbound: Outbound;
  /** The detection engine over the audit trail (`detect.*`); started with the listeners when `detect.enabled`. */
  detect: DetectionEngine;
  pki: Pki;
  directory: Directory;
  invitations: Invitations;
  relationships: RelationshipStore;
  /** The policy set, decision point and relationship services behind the public API's authorization. */
  authorization: Authorization;
  /** Admin-plane operators: people and certificates with roles, console sessions, elevations, approvals. */
  operators: Operators;
  auth: Auth;
  telemetry: Telemetry;
  /** Remote commands: catalog, jobs, signing keys, the dispatcher. */
  commands: Commands;
  /** Incidents and playbooks; `incidents.onFinding` is the detection engine's reaction port. */
  incidents: Incidents;
  /** Webhook subscriptions, the delivery queue and worker (`webhooks.*`); started with the listeners. */
  webhooks: Webhooks;
  /** The calls of deprecated API versions, counted in memory and written in batches (`inventory.*`). */
  versionUsage: VersionUsage;
  /** The process's one cluster-coordination adapter (Redis in cluster mode, memory when embedded). */
  cluster: Cluster;
  /** Prometheus metrics and OpenTelemetry traces (`observability.*`). */
  observability: Observability;
  clock: Clock;
  log: Logger;
  close(): Promise<void>;
}

/** Where signed audit checkpoints are exported (`audit.checkpointFile`, or beside the database). */
export function auditCheckpointFile(config: Config): string {
  return config.audit.checkpointFile ?? join(config.dataDir, 'audit', 'checkpoints.jsonl');
}

/** What the platform is built with besides its configuration. */
export interface PlatformOptions {
  log: Logger;
  clock?: Clock;
  keys?: KeyProvider;
  sqliteFile?: string;
  /** Test-only parts of the outbound layer (a resolver, CAs, addresses treated as public); never configuration. */
  outbound?: OutboundInjection;
}

/** Opens storage, applies migrations, and loads (or in development, creates) the PKI. */
export async function createPlatform(config: Config, options: PlatformOptions): Promise<Platform> {
  const clock = options.clock ?? systemClock;
  assertNoFaultPoints(config.mode);
  // An invalid policy set or detection rule refuses to start, before anything is opened.
  const policySet = loadPolicySet(config.policy.dir ?? undefined);
  // So does a playbook file that does not match the playbook schema.
  const playbooks = loadPlaybooks(config.incidents.playbooksDir ?? undefined);
  const detectionRules = loadDetectionRules(config);
  const storage = await openStorage({
    url: config.database.url,
    schema: config.database.schema,
    dataDir: config.dataDir,
    sqliteFile: options.sqliteFile,
    timeouts: config.database,
    // A lost connection is replaced by the pool; requests that needed it were answered 503.
    onConnectionError: (err) => options.log.warn({ err: { message: err.message } }, 'database connection lost'),
  });
  let cluster: Cluster | null = null;
  const metrics = createMetrics();
  let tracing: Tracing | undefined;
  try {
    await migrateDatabase(storage.db, { schema: storage.schema });
    const audit = createAuditLog({ db: storage.db, clock });
    const outbound = createOutbound({
      ...options.outbound,
      settings: config.outbound,
      mode: config.mode,
      db: storage.db,
      audit,
      log: options.log,
    });
    // Spans leave through the outbound layer like every other call (purpose `otlp`).
    const traces = createTracing(config.observability.traces, outbound);
    tracing = traces;
    const observability: Observability = { metrics, tracing: traces };
    // One adapter per process; an outage that refuses requests is logged by the adapter and audited here.
    cluster = await createCluster(config, {
      log: options.log,
      onUnavailable: (event) => {
        audit
          .append(storage.db, {
            type: 'cluster.coordination.unavailable',
            actor: { type: 'system', id: null },
            object: { type: 'cluster_operation', id: event.operation },
            action: 'cluster:coordinate',
            decision: event.exception ? 'info' : 'deny',
            reason: event.exception ?? 'redis_unavailable',
            details: { error: event.error.slice(0, 200) },
          })
          .catch((err: unknown) => options.log.warn({ err }, 'could not audit a Redis outage'));
      },
    });
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
      cluster,
      keys: options.keys,
      vehicles: { get: getVehicle, findOrCreate: findOrCreateVehicle },
    });
    // The export reads the sealed trail; retention never prunes what a sink has not exported yet.
    const siem = createSiemExport(config, {
      outbound,
      db: storage.db,
      tail: (afterLeaf, limit) => tailAuditEvents(storage.db, afterLeaf, limit),
      cluster,
      clock,
      log: options.log,
    });
    const evidence = await createAuditEvidence({
      keepFrom: () => siem.pendingFrom(),
      db: storage.db,
      clock,
      log: options.log,
      keys: pki.ctx.keys,
      keyDir: join(config.dataDir, 'pki'),
      settings: { ...config.audit, checkpointFile: auditCheckpointFile(config) },
    });
    const secrets = createSecretBox(join(config.dataDir, 'pki', 'secret-box.key'));
    const sessions = { revokeAll: revokeAccountTokens };
    const directory = createDirectory({ db: storage.db, audit, clock, secrets, sessions });
    const invitations = createInvitations({ db: storage.db, audit, clock, ttlSeconds: config.auth.invitationTtl });
    const relationships = createRelationshipStore({ db: storage.db, audit, clock });
    const auth = await createAuth({
      config,
      db: storage.db,
      audit,
      clock,
      log: options.log,
      secrets,
      cluster,
      outbound,
    });
    const deps = { db: storage.db, audit, clock, relationships, vehicles: { findByVin: findVehicleByVin } };
    // A transfer ends the old owner's queued jobs in its own transaction: the commands module's reaction, as a port.
    const cascades = [createJobsEndWithOwnership({ audit, clock })];
    const claimCounter = createClusterFailureCounter(cluster, 'claims');
    const authorization = {
      policySet,
      decisions: countDecisions(createDecisionPoint(policySet), metrics.decisions),
      load: createEntityLoader({ facts: createAuthorizationFacts(storage.db), clock }),
      cache: createEntityCache({
        facts: createAuthorizationFacts(storage.db),
        clock,
        changes: () => readChangeCounter(storage.db, 'authorization'),
      }),
      actions: schemaActions(policySet),
      access: createVehicleAccess({
        ...deps,
        cascades,
        delegableCommands: DELEGABLE_COMMANDS,
        stepUpCommands: STEP_UP_COMMANDS,
      }),
      cases: createCases({
        ...deps,
        approvableCommands: DELEGABLE_COMMANDS,
        cluster,
        requestLimits: {
          perDealer: config.serviceCases.requestsPerDealer,
          perVin: config.serviceCases.requestsPerVin,
          windowSeconds: config.serviceCases.requestWindow,
        },
      }),
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
      cluster,
      log: options.log,
      metrics: metrics.telemetry,
    });
    const commands = await createCommands({
      db: storage.db,
      audit,
      clock,
      log: options.log,
      settings: config.commands,
      pki,
      decisions: authorization.decisions,
      load: authorization.load,
      isQuarantined: (deviceId) => telemetry.quarantine.isQuarantined(deviceId),
      cluster,
      tracer: traces.tracer,
    });
    commands.dispatcher.events.on('job', (job: { command: string; state: string; created_at: string }) =>
      metrics.commands.job(job.command, job.state, (clock.now().getTime() - Date.parse(job.created_at)) / 1000),
    );
    const coordination = cluster;
    healthGauges(metrics, {
      revocationViewAgeMs: () => pki.ctx.cache.age(),
      databaseUp: () => storage.ping(),
      redisUp: config.redis.url ? () => coordination.ping() : null,
    });
    // Incidents: the playbooks act through the other modules' own operations, passed in narrowed.
    const incidents = createIncidents({
      db: storage.db,
      audit,
      clock,
      settings: { ...config.incidents, scopeLookbackSeconds: config.incidents.scopeLookback },
      playbooks,
      investigator: createInvestigator({ db: storage.db, proofs: evidence.proofs, clock }),
      crossTenantDenials: (window) =>
        countFlaggedDenials(storage.db, { type: 'authz.decision', flag: 'crossTenant', ...window }),
      ports: {
        pki,
        telemetry,
        directory,
        auth,
        relationships,
        commandKeys: commands.keys,
        pushKeys: () => commands.dispatcher.pushKeysIfChanged(),
        holds: evidence.holds,
        proofs: evidence.proofs,
        sealAudit: async () => {
          await evidence.sealer.checkpoint();
        },
      },
    });
    const detect = createDetection(config, detectionRules, {
      db: storage.db,
      dialect: storage.dialect,
      audit,
      clock,
      log: options.log,
      cluster,
      // Every finding raised or repeated reaches incidents in the engine's own transaction; the incident it
      // answers with is recorded on the finding (its `incidentId`), which the console links by.
      onFinding: (trx, finding, change) => incidents.onFinding(trx, finding, change),
    });
    const webhooks = wireWebhooks(config, {
      db: storage.db,
      audit,
      clock,
      log: options.log,
      secrets,
      outbound,
      cluster,
      decisions: authorization.decisions,
      load: authorization.load,
      auth,
    });
    const versionUsage = createVersionUsage({
      db: storage.db,
      audit,
      clock,
      log: options.log,
      flushSeconds: config.inventory.usageFlushInterval,
    });
    return {
      config,
      storage,
      incidents,
      webhooks,
      versionUsage,
      audit,
      evidence,
      siem,
      outbound,
      detect,
      pki,
      directory,
      invitations,
      relationships,
      auth,
      authorization,
      operators: createOperators({
        db: storage.db,
        audit,
        clock,
        timings: config.operators,
        decisions: authorization.decisions,
        policySet,
      }),
      telemetry,
      commands,
      cluster,
      observability,
      clock,
      log: options.log,
      async close() {
        await commands.close();
        await versionUsage.stop();
        await telemetry.close();
        await claimCounter.close();
        await auth.close();
        await pki.stop();
        // The engine and the exporter stop first: their last rounds finish and they give their leases up.
        await detect.stop();
        await siem.stop();
        await webhooks.stop();
        await traces.shutdown().catch((err: unknown) => options.log.warn({ err }, 'could not export the last spans'));
        await outbound.close();
        await evidence.stop();
        await cluster?.close();
        await storage.close();
      },
    };
  } catch (err) {
    await cluster?.close();
    await storage.close();
    await tracing?.shutdown().catch(() => undefined);
    throw err;
  }
}
