import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TLSSocket } from 'node:tls';
import {
  registerAdminRoutes,
  registerAuditEvidenceRoutes,
  registerAuditRetentionRoutes,
  registerFederationRoutes,
} from '../admin/index.js';
import { OAUTH_PREFIX, registerInteractions, registerOAuthRoutes, tokenAuthentication } from '../auth/index.js';
import { registerAccountRoutes, registerMeRoute } from '../accounts/index.js';
import { operatorAuthentication, operatorAuthorization, requireAdminActions } from '../admin/index.js';
import {
  consoleSignInTarget,
  ensureConsoleClient,
  operatorMayTake,
  registerOperatorRoutes,
  registerSignInRoutes,
} from '../operators/index.js';
import { type Admission, admissionControl, ConnectionRegistry } from '../gateway/index.js';
import { createHandshakeFailures, type HandshakeFailures } from '../gateway/index.js';
import { deviceAuthentication } from '../gateway/index.js';
import { registerGatewayRoutes } from '../gateway/index.js';
import { type App, authenticateUnmatched, createListenerApp, type ListenerApp, pinHost } from '../http/index.js';
import { type ReadinessChecks, type ReadinessDetails, registerHealth } from '../http/index.js';
import { createRegistrar } from '../http/index.js';
import { registerCrlRoutes } from '../pki/index.js';
import { type AuthorizeSpec, objectAuthorization } from '../policy/index.js';
import { registerCaseRoutes, registerFleetRoutes, registerSharingRoutes } from '../relationships/index.js';
import { registerVehicleRoutes } from '../vehicles/index.js';
import { registerTelemetryAdminRoutes, registerTelemetryRoutes } from '../telemetry/index.js';
import { createInvestigator, registerInvestigationRoutes } from '../investigation/index.js';
import { registerIncidentRoutes } from '../incidents/index.js';
import {
  createMatrixRuns,
  loadConsoleBundle,
  type MatrixRuns,
  parseMatrixTargets,
  registerConsoleRoutes,
  registerDeviceSearchRoutes,
  registerFleetRoute,
  registerMatrixRoutes,
} from '../console/index.js';
import type { Platform } from './platform.js';
import { registerDetectionRoutes } from '../detect/index.js';
import { COMMAND_CHANNEL_PATH, registerBulkCommandRoute, registerCommandChannel } from '../commands/index.js';
import { registerCommandRoutes } from '../commands/index.js';
import type { ServerTls } from './tls-material.js';
import { collectedAtMost, countHandshakes, observeListener, registerMetricsRoute } from '../observability/index.js';
import { registerWebhookAdminRoutes, registerWebhookRoutes } from '../webhooks/index.js';
import {
  createGovernanceHistory,
  createInventoryService,
  type GovernanceHistory,
  type InventoryService,
  registerInventoryAdminRoutes,
  registerInventoryPublicRoutes,
} from '../inventory/index.js';
import { COMMAND_CATALOG } from '../commands/index.js';

/** The three listeners, built but not yet listening. */
export interface Listeners {
  public: ListenerApp;
  gateway: ListenerApp & { connections: ConnectionRegistry; admission: Admission };
  admin: ListenerApp;
  /** Failed TLS handshakes on the public listener and the gateway, audited as periodic aggregates. */
  handshakes: HandshakeFailures;
  /** The OpenAPI documents, the API inventory and the governance numbers over these listeners' routes. */
  inventory: InventoryService;
  /** The governance numbers over time (snapshots at start and every `inventory.governanceSnapshotInterval`). */
  governanceHistory: GovernanceHistory;
  /** Authorization-matrix runs started from the console (one at a time on this node). */
  matrixRuns: MatrixRuns;
}

/** The inventory over the three listeners' routes (read lazily: they are complete once the listeners are ready). */
function inventoryOf(platform: Platform, routes: () => Record<'public' | 'gateway' | 'admin', ListenerApp['routes']>) {
  return createInventoryService({
    db: platform.storage.db,
    clock: platform.clock,
    config: platform.config,
    routes,
    policies: platform.authorization.policySet.policies,
    usage: platform.versionUsage,
    commands: Object.values(COMMAND_CATALOG),
    response: async (days) => {
      const g = await platform.incidents.governance(days);
      return { timeToRevoke: g.timeToRevoke, scoping: g.timeToIdentifyAffectedVehicles };
    },
  });
}

/** Where the last authorization matrix report is (what governance reads and a console run writes). */
const matrixReportFile = (config: Platform['config']) =>
  config.inventory.matrixReportFile ?? join(config.dataDir, 'authz-report.json');

/** Matrix runs over the configured targets; a malformed target entry stops the start. */
function matrixRunsOf(platform: Platform): MatrixRuns {
  const { config } = platform;
  return createMatrixRuns({
    db: platform.storage.db,
    audit: platform.audit,
    clock: platform.clock,
    log: platform.log,
    targets: parseMatrixTargets(config.inventory.matrixTargets),
    scenario: config.inventory.matrixScenario,
    ca: config.inventory.matrixTargetCa ?? join(config.dataDir, 'pki', 'ca.pem'),
    partnerKeysDir: config.inventory.matrixPartnerKeysDir ?? join(config.dataDir, 'demo'),
    reportFile: matrixReportFile(config),
  });
}

/** The longest one readiness check may take: a hung dependency reports false instead of hanging the probe. */
const READINESS_CHECK_MS = 2000;

/** `check`'s answer, or false when it fails or takes longer than READINESS_CHECK_MS. */
async function bounded(check: () => Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READINESS_CHECK_MS)));
  try {
    return await Promise.race([check().catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each dependency, checked in parallel and bounded: database, Redis (cluster mode), CAs, revocation view. */
function readiness(platform: Platform): () => Promise<ReadinessChecks> {
  const staleAfterMs = Math.max(10, platform.config.pki.revocationPollInterval * 5) * 1000;
  const redis = platform.cluster.kind === 'redis';
  return async () => {
    const [database, cluster] = await Promise.all([
      bounded(() => platform.storage.ping()),
      redis ? bounded(() => platform.cluster.ping()) : Promise.resolve(true),
    ]);
    return {
      database,
      ...(redis ? { redis: cluster } : {}),
      certificateAuthorities: platform.pki.ctx.authorities.fleet.signingKey !== null,
      revocationView: platform.pki.ctx.cache.age() < staleAfterMs,
    };
  };
}

/** The SIEM sinks' state, on the admin plane's /readyz only: a backlog is nobody's business on the public API. */
function exportDetails(platform: Platform): () => ReadinessDetails {
  return () => ({
    ...Object.fromEntries(platform.siem.status().map((s) => [`siem.${s.sink}`, { ...s }])),
    detect: detectDetails(platform),
  });
}

/**
 * The detection engine's health, flat (readiness details hold scalars). /readyz answers without a certificate, so
 * it tells whether detection keeps up, never what it found: the finding counters would let whoever reaches the
 * admin port watch, request by request, whether an attack was detected, and the error text may carry database
 * text. The full state is on `GET /admin/v1/detections` (operator).
 */
function detectDetails(platform: Platform): Record<string, string | number | boolean | null> {
  const s = platform.detect.status();
  return {
    enabled: platform.config.detect.enabled,
    leaseHeld: s.leaseHeld,
    lagEvents: s.lagEvents,
    lagMs: s.lagMs,
    lastRoundAt: s.lastRoundAt,
    failing: s.lastError !== null,
  };
}

function forbidRenegotiation(app: App): void {
  // TLS 1.2 renegotiation would let a peer swap certificates under an authenticated connection.
  app.server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
}

/** Where the console's sign-in goes and comes back to (`operators.consoleUrl`, else the admin port on localhost). */
export function consoleTarget(platform: Pick<Platform, 'config' | 'auth'>) {
  const { config } = platform;
  const url = config.operators.consoleUrl ?? `https://localhost:${config.listeners.admin.port}`;
  return consoleSignInTarget(platform.auth.issuer, url);
}

/** Builds the public API, the vehicle gateway and the admin plane over one platform. */
export function buildListeners(platform: Platform, tls: ServerTls): Listeners {
  const { pki, audit, log, config } = platform;
  const { root, fleet, manufacturer } = pki.ctx.authorities;
  const base = { key: tls.key, cert: tls.cert, minVersion: config.tls.minVersion };
  const c = config.connections;
  const limits = { ...c, maxConnections: c.maxPerListener, maxConnectionsPerAddress: c.maxPerAddress };
  const ready = readiness(platform);
  const handshakes = createHandshakeFailures({
    db: platform.storage.db,
    audit,
    log,
    intervalSeconds: config.tls.handshakeFailureInterval,
  });

  const { metrics, tracing } = platform.observability;
  const observed = (name: string) => observeListener(name, { metrics: metrics.http, tracer: tracing.tracer });
  const pub = createListenerApp({
    tls: { ...base, requestCert: false },
    logger: log.child({ listener: 'public' }),
    observer: observed('public'),
    limits,
  });
  const planes: Partial<Record<'public' | 'gateway' | 'admin', ListenerApp>> = { public: pub };
  const inventory = inventoryOf(platform, () => ({
    public: pub.routes,
    gateway: planes.gateway?.routes ?? [],
    admin: planes.admin?.routes ?? [],
  }));
  // The public API answers for publicBaseUrl only; probes address the node, so health is exempt.
  pinHost(pub.app, config.publicBaseUrl, ['/healthz', '/readyz']);
  const authz = platform.authorization;
  const db = platform.storage.db;
  // Each public route gets its token and object-authorization steps from its own declaration.
  const api = createRegistrar<AuthorizeSpec>(pub.app, {
    oauthProtocol: { prefix: OAUTH_PREFIX },
    token: tokenAuthentication(pub.app, {
      verify: platform.auth.verify,
      audit,
      db,
      baseUrl: () => config.publicBaseUrl.replace(/\/$/, ''),
    }),
    versions: { clock: platform.clock, deprecatedCall: (req, call) => platform.versionUsage.record(req, call) },
    authorize: objectAuthorization(pub.app, {
      decisions: authz.decisions,
      load: authz.load,
      fresh: () => authz.cache.loader(),
      audit,
      db,
      actions: authz.actions,
      freshness: { clock: platform.clock, stepUpMaxAge: config.commands.stepUpMaxAge },
      tracer: tracing.tracer,
    }),
  });
  registerHealth(api, ready);
  registerInventoryPublicRoutes(api, { inventory });
  registerCrlRoutes(api, { pki });
  registerOAuthRoutes(api, platform.auth.provider, 'public', config.publicBaseUrl);
  registerInteractions(api, {
    provider: platform.auth.provider,
    directory: platform.directory,
    audit,
    clock: platform.clock,
    throttle: platform.auth.throttle,
  });
  registerMeRoute(api, { directory: platform.directory });
  registerAccountRoutes(api, {
    directory: platform.directory,
    invitations: platform.invitations,
    throttle: platform.auth.throttle,
  });
  const clock = platform.clock;
  registerVehicleRoutes(api, {
    db,
    clock,
    decisions: authz.decisions,
    load: authz.load,
    access: authz.access,
    claims: authz.claims,
  });
  registerSharingRoutes(api, { db, clock, access: authz.access, stepUpMaxAge: config.commands.stepUpMaxAge });
  registerFleetRoutes(api, { db, clock, decisions: authz.decisions, load: authz.load, fleet: authz.fleet });
  registerCaseRoutes(api, { db, clock, cases: authz.cases, decisions: authz.decisions, load: authz.load });
  const cmd = {
    db,
    service: platform.commands.service,
    dispatcher: platform.commands.dispatcher,
    feed: platform.commands.feed,
    decisions: authz.decisions,
    load: authz.load,
    stepUpMaxAge: config.commands.stepUpMaxAge,
    clock,
    tracer: tracing.tracer,
  };
  registerCommandRoutes(api, cmd);
  registerBulkCommandRoute(api, { ...cmd, bulkMax: config.commands.bulkMaxVehicles });
  registerWebhookRoutes(api, { db, webhooks: platform.webhooks, decisions: authz.decisions, load: authz.load });

  // The gateway trusts the fleet CA (operational certificates) and the manufacturer CA (factory
  // certificates); the root is there only to complete the fleet chain. Which CA issued what is checked per route.
  const gw = createListenerApp({
    tls: { ...base, requestCert: true, ca: [root.pem, fleet.pem, manufacturer.pem] },
    logger: log.child({ listener: 'gateway' }),
    observer: observed('gateway'),
    limits,
  });
  planes.gateway = gw;
  // First of all hooks: a refusal for load must cost less than the work it spares.
  const gatewayOpens = c.gatewayMaxConcurrentOpens;
  const admission = admissionControl(gw.app, {
    limits: { [`${OAUTH_PREFIX}/token`]: gatewayOpens, [COMMAND_CHANNEL_PATH]: gatewayOpens },
    retryAfterSeconds: c.gatewayBusyRetryAfter,
    db: platform.storage.db,
    audit,
    log,
  });
  const device = deviceAuthentication(gw.app, { pki, audit });
  // An unknown path is answered 404 only to an enrolled device; any other peer gets its refusal.
  authenticateUnmatched(gw.app, device('unmatched'));
  const connections = new ConnectionRegistry();
  gw.app.server.on('secureConnection', (socket: TLSSocket) => connections.track(socket));
  pki.ctx.cache.onChange((change) => {
    const closed = connections.apply(change);
    if (closed > 0) log.info({ kind: change.kind, closed }, 'closed gateway connections after a credential change');
  });
  forbidRenegotiation(gw.app);
  const gateway = createRegistrar(gw.app, {
    device,
    // Device tokens are certificate-bound, so the DPoP `htu` base is never consulted here; it names the gateway anyway.
    token: tokenAuthentication(gw.app, {
      verify: platform.auth.verify,
      audit,
      db,
      baseUrl: () => `https://localhost:${config.listeners.gateway.port}`,
    }),
  });
  registerHealth(gateway, ready);
  registerGatewayRoutes(gateway, { pki, claims: platform.authorization.claims, commandKeys: platform.commands.keys });
  registerOAuthRoutes(gateway, platform.auth.provider, 'gateway', config.publicBaseUrl);
  registerTelemetryRoutes(gateway, { telemetry: platform.telemetry, pki, audit, db });
  registerCommandChannel(gateway, {
    dispatcher: platform.commands.dispatcher,
    verify: platform.auth.verify,
    audit,
    db,
    baseUrl: () => `https://localhost:${config.listeners.gateway.port}`,
  });

  const admin = createListenerApp({
    tls: { ...base, requestCert: true, ca: [root.pem] },
    logger: log.child({ listener: 'admin' }),
    observer: observed('admin'),
    limits,
  });
  planes.admin = admin;
  const operators = platform.operators;
  const operator = operatorAuthentication(admin.app, { pki, audit, operators });
  authenticateUnmatched(admin.app, operator);
  operatorAuthorization(admin.app, { ...operators, db });
  requireAdminActions(admin.app, admin.routes, operators.authorization.actions);
  forbidRenegotiation(admin.app);
  const plane = createRegistrar(admin.app, { operator });
  registerHealth(plane, ready, exportDetails(platform));
  registerSignInRoutes(plane, {
    db,
    clock: platform.clock,
    audit,
    provider: platform.auth.provider,
    directory: operators.directory,
    sessions: operators.sessions,
    target: consoleTarget(platform),
    sessionTtl: config.operators.sessionTtl,
    // Registered at the first sign-in, not at start: it lives in the platform operator's tenant, which the
    // deployment's set-up creates (a fresh one gets a "Platform operator" tenant then).
    ensureClient: () => ensureConsoleClient({ db, directory: platform.directory, target: consoleTarget(platform) }),
  });
  registerOperatorRoutes(plane, operators);
  registerAdminRoutes(plane, { pki, audit, directory: platform.directory, tokens: platform.auth });
  registerDeviceSearchRoutes(plane, { pki, audit });
  registerTelemetryAdminRoutes(plane, { telemetry: platform.telemetry });
  registerFederationRoutes(plane, { db, audit, clock: platform.clock, issuers: config.federation.issuers });
  registerAuditEvidenceRoutes(plane, { evidence: platform.evidence });
  registerInvestigationRoutes(plane, {
    investigator: createInvestigator({ db, proofs: platform.evidence.proofs, clock: platform.clock }),
  });
  registerAuditRetentionRoutes(plane, { evidence: platform.evidence });
  // The console's built files sit at dist/console-web from both src/server (tsx) and dist/server (compiled).
  registerConsoleRoutes(plane, {
    bundle: loadConsoleBundle(fileURLToPath(new URL('../../dist/console-web', import.meta.url))),
  });
  registerFleetRoute(plane, { db });
  const matrixRuns = matrixRunsOf(platform);
  registerMatrixRoutes(plane, { runs: matrixRuns, reportFile: matrixReportFile(config) });
  registerDetectionRoutes(plane, {
    engine: platform.detect,
    db,
    proofs: platform.evidence.proofs,
    overrides: config.detect.overrides,
    enabled: config.detect.enabled,
  });

  // Incidents, playbooks, approvals, notifications and the response governance numbers (admin plane only).
  registerIncidentRoutes(plane, { incidents: platform.incidents, mayTake: operatorMayTake(platform.operators) });
  if (config.observability.metrics.enabled) {
    registerMetricsRoute(plane, { metrics });
    // The governance numbers read the trail over a window: computed at most once a minute, whatever the scrape rate.
    metrics.registerCollector(collectedAtMost(60_000, async () => (await inventory.governance()).metrics));
  }
  countHandshakes(pub.app.server, 'public', metrics.http);
  countHandshakes(gw.app.server, 'gateway', metrics.http);
  countHandshakes(admin.app.server, 'admin', metrics.http);
  registerWebhookAdminRoutes(plane, { webhooks: platform.webhooks });
  const governanceHistory = createGovernanceHistory({
    db,
    clock: platform.clock,
    log,
    governance: () => inventory.governance(),
    intervalSeconds: config.inventory.governanceSnapshotInterval,
    retentionSeconds: config.inventory.governanceSnapshotRetention,
  });
  registerInventoryAdminRoutes(plane, { inventory, history: governanceHistory, clock: platform.clock });

  if (config.tls.handshakeFailureInterval > 0) {
    handshakes.watch(pub.app.server, 'public');
    handshakes.watch(gw.app.server, 'gateway');
  }
  return {
    public: pub,
    gateway: { ...gw, connections, admission },
    admin,
    handshakes,
    inventory,
    governanceHistory,
    matrixRuns,
  };
}

/** Where each listener ended up. */
export interface ListeningAddresses {
  public: string;
  gateway: string;
  admin: string;
}

function urlOf(app: App): string {
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') return String(addr);
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `https://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${addr.port}`;
}

/** Starts listening on the configured addresses (port 0 picks a free port, for tests). */
export async function listen(listeners: Listeners, config: Platform['config']): Promise<ListeningAddresses> {
  const l = config.listeners;
  await listeners.public.app.listen({ host: l.public.host, port: l.public.port });
  await listeners.gateway.app.listen({ host: l.gateway.host, port: l.gateway.port });
  await listeners.admin.app.listen({ host: l.admin.host, port: l.admin.port });
  return {
    public: urlOf(listeners.public.app),
    gateway: urlOf(listeners.gateway.app),
    admin: urlOf(listeners.admin.app),
  };
}

/** Closes one listener: open requests get `deadlineMs` to finish, then every connection left is destroyed. */
async function closeWithin(listener: ListenerApp, deadlineMs: number): Promise<void> {
  const closing = listener.app.close();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
  if ((await Promise.race([closing, late])) === 'late') listener.guard.destroyAll();
  clearTimeout(timer);
  await closing;
}

/** Stops all three listeners, within `connections.shutdownTimeoutMs` (the default when not given). */
export async function closeListeners(listeners: Listeners, deadlineMs = 10_000): Promise<void> {
  listeners.governanceHistory.stop();
  listeners.matrixRuns.stop();
  await Promise.all([listeners.public, listeners.gateway, listeners.admin].map((l) => closeWithin(l, deadlineMs)));
  await listeners.handshakes.close();
  await listeners.gateway.admission.close();
}
