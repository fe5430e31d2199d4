import { type FederatedIssuerSettings, issuersProblem } from './federation-settings.js';
import { type Option, opt } from './option.js';

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The shape of `detect.overrides`; the detection module checks rule ids and parameters at start. */
function overridesProblem(v: unknown): string | null {
  if (!isMapping(v)) return 'must be a mapping of rule id to override';
  for (const [id, o] of Object.entries(v)) if (!isMapping(o)) return `.${id} must be a mapping`;
  return null;
}

/** The shape of `detect.geo`: rows of cidr, latitude, longitude and label. */
function geoProblem(v: unknown): string | null {
  if (!Array.isArray(v)) return 'must be a list of { cidr, latitude, longitude, label }';
  for (const [i, row] of v.entries()) {
    if (!isMapping(row)) return `[${i}] must be a mapping`;
    const ok =
      typeof row.cidr === 'string' &&
      typeof row.label === 'string' &&
      typeof row.latitude === 'number' &&
      Math.abs(row.latitude) <= 90 &&
      typeof row.longitude === 'number' &&
      Math.abs(row.longitude) <= 180 &&
      Object.keys(row).length === 4;
    if (!ok) return `[${i}] must have exactly cidr, latitude (-90..90), longitude (-180..180) and label`;
  }
  return null;
}

/**
 * Every configuration option, its default, its environment variable and its documentation.
 * docs/configuration.md is generated from this object (`npm run docs:config`), and a test keeps the two equal.
 */
export const configSchema = {
  mode: opt.oneOf(
    ['development', 'production'],
    'development',
    'CARAPACE_MODE',
    'Development mode generates a local PKI and seeds demo data. Production mode refuses every insecure ' +
      'development default: generated CAs, generated server certificates and demo data.',
  ),
  seedDemo: opt.boolean(
    true,
    'CARAPACE_SEED_DEMO',
    'In development, load scenarios/demo.yaml into an empty database at start and print the demo personas. Never ' +
      'in production.',
  ),
  publicBaseUrl: opt.string(
    'https://localhost:8443',
    'CARAPACE_PUBLIC_BASE_URL',
    'External base URL of the public listener. The token issuer is `<publicBaseUrl>/oauth`, and certificates point ' +
      'their CRL distribution point here. When unset it follows the public port: ' +
      '`https://localhost:<listeners.public.port>` (the default shown is for the default port).',
  ),
  dataDir: opt.string(
    './data',
    'CARAPACE_DATA_DIR',
    'Directory for the embedded SQLite database and the file key provider (`<dataDir>/pki`, mode 0700, keys 0600).',
  ),
  database: {
    url: opt.optionalString(
      'DATABASE_URL',
      'PostgreSQL connection URL. When unset, Carapace uses SQLite at `<dataDir>/carapace.sqlite`.',
    ),
    schema: opt.string(
      'public',
      'CARAPACE_DATABASE_SCHEMA',
      'PostgreSQL schema that holds Carapace tables (created if missing). Ignored for SQLite.',
    ),
    connectTimeoutMs: opt.integer(
      5000,
      100,
      60_000,
      'CARAPACE_DATABASE_CONNECT_TIMEOUT_MS',
      'Milliseconds a new PostgreSQL connection may take (TCP and startup) before the request that waits for it ' +
        'is answered 503 `ERR_DATABASE_UNAVAILABLE`. Also bounds the wait for a free pooled connection.',
    ),
    statementTimeoutMs: opt.integer(
      10_000,
      100,
      600_000,
      'CARAPACE_DATABASE_STATEMENT_TIMEOUT_MS',
      'PostgreSQL `statement_timeout` (and `idle_in_transaction_session_timeout`) of every connection: the server ' +
        'cancels a statement that runs longer. Ignored for SQLite, whose waits are bounded by its busy timeout.',
    ),
    queryTimeoutMs: opt.integer(
      15_000,
      100,
      600_000,
      'CARAPACE_DATABASE_QUERY_TIMEOUT_MS',
      'Milliseconds the client waits for any PostgreSQL reply, even when the server cannot cancel (a hung ' +
        'network): the request is answered 503 and the connection is discarded, never reused. Keep it above ' +
        '`database.statementTimeoutMs`.',
    ),
  },
  redis: {
    url: opt.optionalString(
      'REDIS_URL',
      'Redis URL for cluster mode. When set, every process shares rate-limit counters, replay windows, idempotency ' +
        'reservations and sign-in lockouts through it, and credential changes and command routing reach every ' +
        'process at once instead of by polling. Security limits fail closed: when Redis cannot answer, the request ' +
        'is refused with `ERR_CLUSTER_UNAVAILABLE` (503).',
    ),
    keyPrefix: opt.string(
      'carapace:',
      'CARAPACE_REDIS_KEY_PREFIX',
      'Prefix of every Redis key and pub/sub channel Carapace uses, so deployments (or tenants of one Redis) never ' +
        'share counters or messages. Every process of one deployment must use the same prefix.',
    ),
    commandTimeoutMs: opt.integer(
      1000,
      50,
      30_000,
      'CARAPACE_REDIS_COMMAND_TIMEOUT_MS',
      'Milliseconds a Redis command (or the connection attempt) may take before it counts as unavailable, so a ' +
        'dead or hung Redis never hangs a request.',
    ),
  },
  log: {
    level: opt.oneOf(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      'info',
      'CARAPACE_LOG_LEVEL',
      'Log level. Logs are JSON (pino) with tokens, keys, passwords and certificates redacted.',
    ),
  },
  listeners: {
    public: {
      host: opt.string('0.0.0.0', 'CARAPACE_PUBLIC_HOST', 'Address of the public API listener.'),
      port: opt.port(8443, 'CARAPACE_PUBLIC_PORT', 'Port of the public API listener (HTTPS).'),
    },
    gateway: {
      host: opt.string('0.0.0.0', 'CARAPACE_GATEWAY_HOST', 'Address of the vehicle gateway listener.'),
      port: opt.port(
        8444,
        'CARAPACE_GATEWAY_PORT',
        'Port of the vehicle gateway (HTTPS with required client certificates).',
      ),
    },
    admin: {
      host: opt.string(
        '127.0.0.1',
        'CARAPACE_ADMIN_HOST',
        'Address of the admin plane. Keep it on loopback or a management network; it is never served on the public ' +
          'listener.',
      ),
      port: opt.port(8445, 'CARAPACE_ADMIN_PORT', 'Port of the admin plane (HTTPS with operator client certificates).'),
    },
  },
  connections: {
    handshakeTimeoutMs: opt.integer(
      10_000,
      100,
      120_000,
      'CARAPACE_HANDSHAKE_TIMEOUT_MS',
      'Milliseconds from TCP accept to a finished TLS handshake, per socket, on every listener; a peer that stays ' +
        'silent or stops mid-handshake is disconnected (its descriptor freed), never written to.',
    ),
    headersTimeoutMs: opt.integer(
      10_000,
      100,
      120_000,
      'CARAPACE_HEADERS_TIMEOUT_MS',
      'Milliseconds from the TLS handshake to the first request headers, per socket.',
    ),
    requestTimeoutMs: opt.integer(
      30_000,
      100,
      600_000,
      'CARAPACE_REQUEST_TIMEOUT_MS',
      "Milliseconds from a request's headers to its last body byte, per socket.",
    ),
    idleTimeoutMs: opt.integer(
      30_000,
      100,
      600_000,
      'CARAPACE_IDLE_TIMEOUT_MS',
      'Milliseconds a kept-alive connection may stay open with no request in flight (this also bounds the headers ' +
        'of its next request). A WebSocket command channel is exempt: its own heartbeat closes a dead peer.',
    ),
    maxPerListener: opt.integer(
      10_000,
      1,
      1_000_000,
      'CARAPACE_MAX_CONNECTIONS',
      'Open connections per listener, in any phase (handshake included); a connection beyond it is closed at once. ' +
        "Keep the sum of the three listeners below the process's file-descriptor limit.",
    ),
    maxPerAddress: opt.integer(
      1000,
      1,
      1_000_000,
      'CARAPACE_MAX_CONNECTIONS_PER_ADDRESS',
      'Open connections per source address per listener (an IPv6 source counts by its /64). Vehicles behind one ' +
        'carrier NAT share an address: size it for the largest such group.',
    ),
    gatewayMaxConcurrentOpens: opt.integer(
      32,
      1,
      10_000,
      'CARAPACE_GATEWAY_MAX_CONCURRENT_OPENS',
      'Token requests, and separately command-channel openings, in progress at once on the vehicle gateway of one ' +
        'process; one beyond it is answered 503 `ERR_GATEWAY_BUSY` with `Retry-After` before any other work, so a ' +
        'fleet reconnecting together is admitted at the rate the process can serve.',
    ),
    gatewayBusyRetryAfter: opt.integer(
      2,
      1,
      60,
      'CARAPACE_GATEWAY_BUSY_RETRY_AFTER',
      'The `Retry-After` (seconds) of a gateway `ERR_GATEWAY_BUSY`; the vehicle SDK adds up to as much again as jitter.',
    ),
    shutdownTimeoutMs: opt.integer(
      10_000,
      100,
      600_000,
      'CARAPACE_SHUTDOWN_TIMEOUT_MS',
      'Milliseconds a shutdown waits for open requests to finish before it closes every connection that is left.',
    ),
  },
  tls: {
    certFile: opt.optionalString(
      'CARAPACE_TLS_CERT_FILE',
      'PEM server certificate chain for all listeners. When unset in development, one is issued by the development ' +
        'root CA. Required in production.',
    ),
    keyFile: opt.optionalString('CARAPACE_TLS_KEY_FILE', 'PEM private key for `tls.certFile`.'),
    hostnames: opt.stringList(
      ['localhost', '127.0.0.1', '::1'],
      'CARAPACE_TLS_HOSTNAMES',
      'Names and addresses put in the generated development server certificate.',
    ),
    handshakeFailureInterval: opt.duration(
      60,
      0,
      3600,
      'CARAPACE_TLS_HANDSHAKE_FAILURE_INTERVAL',
      'How often each process audits the TLS handshakes that failed on the public listener and the vehicle ' +
        'gateway, as one `gateway.tls.handshake_failed` per source network (never one per handshake); 0: never.',
    ),
    minVersion: opt.oneOf(
      ['TLSv1.2', 'TLSv1.3'],
      'TLSv1.2',
      'CARAPACE_TLS_MIN_VERSION',
      'Lowest TLS version accepted by every listener.',
    ),
  },
  auth: {
    userAccessTokenTtl: opt.duration(
      600,
      60,
      3600,
      'CARAPACE_AUTH_USER_ACCESS_TOKEN_TTL',
      'Lifetime of access tokens issued to people (through apps).',
    ),
    partnerAccessTokenTtl: opt.duration(
      600,
      60,
      600,
      'CARAPACE_AUTH_PARTNER_ACCESS_TOKEN_TTL',
      'Lifetime of client-credentials tokens of partners and workloads.',
    ),
    deviceTelemetryTokenTtl: opt.duration(
      300,
      30,
      300,
      'CARAPACE_AUTH_DEVICE_TELEMETRY_TOKEN_TTL',
      'Lifetime of a device telemetry token (certificate-bound).',
    ),
    deviceCommandTokenTtl: opt.duration(
      60,
      10,
      60,
      'CARAPACE_AUTH_DEVICE_COMMAND_TOKEN_TTL',
      'Lifetime of a device command-channel token (certificate-bound).',
    ),
    loginFailuresPerAccount: opt.integer(
      5,
      1,
      100,
      'CARAPACE_AUTH_LOGIN_FAILURES_PER_ACCOUNT',
      'Failed sign-ins of one account within the window before sign-in pauses for it.',
    ),
    loginFailuresPerSource: opt.integer(
      30,
      1,
      10000,
      'CARAPACE_AUTH_LOGIN_FAILURES_PER_SOURCE',
      'Failed sign-ins from one address within the window before sign-in pauses for it.',
    ),
    invitationTtl: opt.duration(
      7 * DAY,
      HOUR,
      30 * DAY,
      'CARAPACE_AUTH_INVITATION_TTL',
      'How long an invitation code stays usable.',
    ),
    loginFailureWindow: opt.duration(
      900,
      60,
      86400,
      'CARAPACE_AUTH_LOGIN_FAILURE_WINDOW',
      'The sliding window of the sign-in failure limits.',
    ),
  },
  policy: {
    dir: opt.optionalString(
      'CARAPACE_POLICY_DIR',
      'Directory of the Cedar schema (`schema.cedarschema`) and policies (`*.cedar`). When unset, the `policies/` ' +
        'shipped with Carapace. An invalid policy set refuses to start, and so does one that lacks a policy of the ' +
        'required manifest (every guardrail; src/policy/required-policies.ts) or turns one into a permit.',
    ),
  },
  claims: {
    codeTtl: opt.duration(
      15 * MINUTE,
      MINUTE,
      HOUR,
      'CARAPACE_CLAIMS_CODE_TTL',
      'How long a claim code shown inside a vehicle stays usable.',
    ),
    failuresPerVehicle: opt.integer(
      5,
      1,
      100,
      'CARAPACE_CLAIMS_FAILURES_PER_VEHICLE',
      'Failed claims naming one VIN within the window before claiming it pauses.',
    ),
    failuresPerAccount: opt.integer(
      10,
      1,
      100,
      'CARAPACE_CLAIMS_FAILURES_PER_ACCOUNT',
      'Failed claims by one account within the window before it may not claim.',
    ),
    failureWindow: opt.duration(
      HOUR,
      MINUTE,
      DAY,
      'CARAPACE_CLAIMS_FAILURE_WINDOW',
      'The sliding window of the claim failure limits.',
    ),
  },
  serviceCases: {
    requestsPerDealer: opt.integer(
      60,
      1,
      10_000,
      'CARAPACE_SERVICE_CASES_REQUESTS_PER_DEALER',
      'Service requests one dealer may send within the window, whatever the VIN ' +
        "(each is shown to the vehicle's owner).",
    ),
    requestsPerVin: opt.integer(
      3,
      1,
      100,
      'CARAPACE_SERVICE_CASES_REQUESTS_PER_VIN',
      'Service requests one dealer may send naming one VIN (known or not) within the window.',
    ),
    requestWindow: opt.duration(
      HOUR,
      MINUTE,
      DAY,
      'CARAPACE_SERVICE_CASES_REQUEST_WINDOW',
      'The fixed window of the service-request limits.',
    ),
  },
  pki: {
    operationalCertTtl: opt.duration(
      7 * DAY,
      5 * MINUTE,
      30 * DAY,
      'CARAPACE_PKI_OPERATIONAL_CERT_TTL',
      'Lifetime of a device operational certificate.',
    ),
    rotationOverlap: opt.duration(
      HOUR,
      MINUTE,
      7 * DAY,
      'CARAPACE_PKI_ROTATION_OVERLAP',
      'After a rotation, how long the previous certificate stays usable if the new one is not used first.',
    ),
    factoryCertTtl: opt.duration(
      3650 * DAY,
      DAY,
      7300 * DAY,
      'CARAPACE_PKI_FACTORY_CERT_TTL',
      'Lifetime of a factory (bootstrap) certificate issued by `carapace pki factory-cert`.',
    ),
    operatorCertTtl: opt.duration(
      30 * DAY,
      HOUR,
      365 * DAY,
      'CARAPACE_PKI_OPERATOR_CERT_TTL',
      'Lifetime of an admin-plane operator certificate.',
    ),
    crlValidity: opt.duration(
      HOUR,
      MINUTE,
      7 * DAY,
      'CARAPACE_PKI_CRL_VALIDITY',
      'nextUpdate distance of published CRLs.',
    ),
    revocationPollInterval: opt.duration(
      1,
      1,
      60,
      'CARAPACE_PKI_REVOCATION_POLL_INTERVAL',
      'How often each process reads what changed in revocations, device states and the token denylist from the ' +
        'database, bounding how long a revocation made by another process (without Redis) takes to apply. The ' +
        'read is incremental (a change log by sequence number); the whole view is re-read every 5 minutes.',
    ),
    keyProvider: opt.oneOf(
      ['file'],
      'file',
      'CARAPACE_PKI_KEY_PROVIDER',
      'Where CA private keys live. `file` keeps PKCS#8 keys under `<dataDir>/pki`; KMS, HSM and PKCS#11 providers ' +
        'implement the same interface.',
    ),
  },
  audit: {
    checkpointInterval: opt.duration(
      10,
      1,
      HOUR,
      'CARAPACE_AUDIT_CHECKPOINT_INTERVAL',
      'How often the sealer integrates committed audit events into the Merkle tree and signs a checkpoint (only ' +
        'when the tree grew). One process seals at a time (a PostgreSQL advisory lock).',
    ),
    sealSettle: opt.duration(
      2,
      0,
      MINUTE,
      'CARAPACE_AUDIT_SEAL_SETTLE',
      'How old an audit event must be before the periodic sealer takes it, so transactions still in flight commit ' +
        'first and the tree follows sequence order. A later commit is still sealed, as a later leaf.',
    ),
    checkpointFile: opt.optionalString(
      'CARAPACE_AUDIT_CHECKPOINT_FILE',
      'File every signed checkpoint is appended to as one JSON line (default `<dataDir>/audit/checkpoints.jsonl`). ' +
        'Keep it where database administrators cannot write (another host, WORM storage): `carapace audit verify` ' +
        'checks the database against it.',
    ),
    export: {
      sinks: opt.stringList(
        [],
        'CARAPACE_AUDIT_EXPORT_SINKS',
        'SIEM sinks the audit trail streams to as OCSF 1.3 JSON (docs/ocsf.md): `file`, `http`, or both. Empty: no ' +
          'export. Each sink has its own durable cursor; in cluster mode one node at a time exports per sink.',
      ),
      interval: opt.duration(
        5,
        0.05,
        HOUR,
        'CARAPACE_AUDIT_EXPORT_INTERVAL',
        'How often each sink looks for newly sealed events. Events are exported once sealed ' +
          '(`audit.checkpointInterval`).',
      ),
      batchSize: opt.integer(
        500,
        1,
        1000,
        'CARAPACE_AUDIT_EXPORT_BATCH_SIZE',
        'Events read from the trail per page, and records per HTTP request.',
      ),
      leaseTtl: opt.duration(
        30,
        1,
        HOUR,
        'CARAPACE_AUDIT_EXPORT_LEASE_TTL',
        "Lifetime of a node's per-sink export lease (renewed every round): how long a dead node holds a sink " +
          'before another node takes over from the persisted cursor.',
      ),
      file: {
        path: opt.optionalString(
          'CARAPACE_AUDIT_EXPORT_FILE',
          'JSON-lines file the `file` sink appends to (default `<dataDir>/audit/export/ocsf.jsonl`). Rotated files ' +
            'are renamed `<path>.<UTC timestamp>`.',
        ),
        maxBytes: opt.integer(
          100 * 1024 * 1024,
          1024,
          1024 * 1024 * 1024 * 100,
          'CARAPACE_AUDIT_EXPORT_FILE_MAX_BYTES',
          'Rotate the export file before it would grow past this size.',
        ),
        rotateInterval: opt.duration(
          DAY,
          0,
          30 * DAY,
          'CARAPACE_AUDIT_EXPORT_FILE_ROTATE_INTERVAL',
          'Rotate the export file once it is this old (0: by size only).',
        ),
        keep: opt.integer(
          10,
          1,
          1000,
          'CARAPACE_AUDIT_EXPORT_FILE_KEEP',
          'Rotated files kept; older ones are deleted (the trail in the database keeps everything).',
        ),
      },
      http: {
        url: opt.optionalString(
          'CARAPACE_AUDIT_EXPORT_HTTP_URL',
          'Collector URL the `http` sink POSTs batches to. Must be https (TLS verified), except a loopback http URL ' +
            'in development mode.',
        ),
        format: opt.oneOf(
          ['json', 'ndjson'],
          'json',
          'CARAPACE_AUDIT_EXPORT_HTTP_FORMAT',
          'Body of each POST: a JSON array of records, or newline-delimited JSON (`application/x-ndjson`).',
        ),
        authorizationEnv: opt.string(
          'CARAPACE_AUDIT_EXPORT_HTTP_AUTHORIZATION',
          'CARAPACE_AUDIT_EXPORT_HTTP_AUTHORIZATION_ENV',
          'Name of the environment variable whose value is sent as the `Authorization` header (e.g. ' +
            '`Bearer …`, `Splunk …`), so the secret never sits in a configuration file. Unset variable: no header. ' +
            'The value is never logged. Another name must not start with `CARAPACE_` (those must be options).',
        ),
        timeout: opt.duration(
          10,
          0.1,
          5 * MINUTE,
          'CARAPACE_AUDIT_EXPORT_HTTP_TIMEOUT',
          'Time a POST may take, connection included, before it counts as failed.',
        ),
        retryBase: opt.duration(
          1,
          0.01,
          MINUTE,
          'CARAPACE_AUDIT_EXPORT_HTTP_RETRY_BASE',
          'First retry delay after a failed POST; it doubles per failure (with full jitter) up to `retryMax`. A ' +
            '`Retry-After` from the collector is honoured instead, up to `retryMax`.',
        ),
        retryMax: opt.duration(
          60,
          0.01,
          HOUR,
          'CARAPACE_AUDIT_EXPORT_HTTP_RETRY_MAX',
          'Longest delay between retries.',
        ),
        backlogMax: opt.integer(
          10_000,
          1,
          100_000,
          'CARAPACE_AUDIT_EXPORT_HTTP_BACKLOG_MAX',
          'Records held on disk (`<dataDir>/audit/export/http.backlog.jsonl`) waiting for the collector. When full ' +
            'the exporter stops reading the trail (backpressure, reported in /readyz details and the log) and never ' +
            'drops a record; it drains when the collector answers again. At most 100,000: the spool is held in ' +
            'memory while it drains.',
        ),
      },
    },
    retention: {
      days: opt.integer(
        0,
        0,
        36500,
        'CARAPACE_AUDIT_RETENTION_DAYS',
        'How many days audit events are kept; 0 (the default) keeps them forever. Pruning removes a prefix of the ' +
          'tree up to a signed checkpoint, keeps every checkpoint and the nodes proofs still need, and stops at the ' +
          'first event under a legal hold (`carapace audit hold add`).',
      ),
      interval: opt.duration(
        HOUR,
        60,
        7 * DAY,
        'CARAPACE_AUDIT_RETENTION_INTERVAL',
        'How often a process prunes the audit trail when `audit.retention.days` is set (also on demand: ' +
          '`carapace audit prune`). One process prunes at a time, under the sealer lock.',
      ),
    },
  },
  telemetry: {
    maxSkew: opt.duration(
      60,
      1,
      HOUR,
      'CARAPACE_TELEMETRY_MAX_SKEW',
      'How far a live message timestamp may be from the gateway clock, either way, before it is rejected ' +
        '(`timestamp_skew`).',
    ),
    backfillMaxAge: opt.duration(
      7 * DAY,
      MINUTE,
      90 * DAY,
      'CARAPACE_TELEMETRY_BACKFILL_MAX_AGE',
      'How old a message sent through the flagged backfill route (recorded while offline) may be. Future ' +
        'timestamps still get only `telemetry.maxSkew`.',
    ),
    replayWindow: opt.integer(
      1024,
      1024,
      65536,
      'CARAPACE_TELEMETRY_REPLAY_WINDOW',
      'Width of the per-device anti-replay window in sequence numbers (rounded up to a multiple of 32). Older ' +
        'numbers are rejected as `sequence_too_old`.',
    ),
    sequenceJumpAlert: opt.integer(
      10000,
      2,
      1_000_000_000,
      'CARAPACE_TELEMETRY_SEQUENCE_JUMP_ALERT',
      'A message whose sequence number is this far or more above the highest seen is accepted but flagged ' +
        '`sequence_jump` and audited as an alert.',
    ),
    regions: opt.stringList(
      [],
      'CARAPACE_TELEMETRY_REGIONS',
      'Operating regions as bounding boxes, `name:latMin..latMax:lonMin..lonMax` (e.g. `EU:34..72:-25..45`). A ' +
        'signed position outside every listed box is accepted but flagged `out_of_region` and audited as an ' +
        'alert. Empty: positions are not judged.',
    ),
    volumeSummaryInterval: opt.duration(
      60,
      0,
      3600,
      'CARAPACE_TELEMETRY_VOLUME_SUMMARY_INTERVAL',
      'How often each process audits how much telemetry it accepted (`telemetry.volume.summary`, and ' +
        '`telemetry.volume.device` for its busiest devices), counted in memory; 0 turns the summaries off.',
    ),
    volumeTopDevices: opt.integer(
      5,
      0,
      50,
      'CARAPACE_TELEMETRY_VOLUME_TOP_DEVICES',
      'How many of the busiest devices of each summary interval get their own `telemetry.volume.device` event.',
    ),
    maxMessageBytes: opt.integer(
      4096,
      256,
      65536,
      'CARAPACE_TELEMETRY_MAX_MESSAGE_BYTES',
      'Largest signed message (canonical JSON bytes). Larger messages are rejected as `too_large`.',
    ),
    maxBatchMessages: opt.integer(
      500,
      1,
      5000,
      'CARAPACE_TELEMETRY_MAX_BATCH_MESSAGES',
      'Most messages in one batch; a larger batch is refused whole with 413.',
    ),
    maxBatchBytes: opt.integer(
      1024 * 1024,
      4096,
      16 * 1024 * 1024,
      'CARAPACE_TELEMETRY_MAX_BATCH_BYTES',
      'Largest request body of the ingestion routes; a larger body is refused whole with 413.',
    ),
    deviceRate: opt.integer(
      1200,
      1,
      10_000_000,
      'CARAPACE_TELEMETRY_DEVICE_RATE',
      'Messages one device may send per `telemetry.rateWindow`; the excess is rejected as `rate_limited`.',
    ),
    fleetRate: opt.integer(
      600_000,
      1,
      1_000_000_000,
      'CARAPACE_TELEMETRY_FLEET_RATE',
      'Messages all devices together may send per `telemetry.rateWindow` (counted per process, or cluster-wide ' +
        'with Redis); the excess is rejected as `rate_limited`.',
    ),
    rateWindow: opt.duration(
      60,
      1,
      HOUR,
      'CARAPACE_TELEMETRY_RATE_WINDOW',
      'The window of the device and fleet rate limits.',
    ),
    quarantineThreshold: opt.integer(
      5,
      1,
      1000,
      'CARAPACE_TELEMETRY_QUARANTINE_THRESHOLD',
      'Bad signatures or identity mismatches from one device within `telemetry.quarantineWindow` that quarantine it.',
    ),
    quarantineWindow: opt.duration(
      10 * MINUTE,
      MINUTE,
      DAY,
      'CARAPACE_TELEMETRY_QUARANTINE_WINDOW',
      'The window of the quarantine threshold.',
    ),
    maxSpeedKmh: opt.integer(
      300,
      50,
      1000,
      'CARAPACE_TELEMETRY_MAX_SPEED_KMH',
      'Highest plausible speed: a faster speed reading is rejected (`speed_out_of_bounds`), a faster position ' +
        'change is flagged (`position_jump`).',
    ),
    maxConcurrentBatches: opt.integer(
      4,
      1,
      256,
      'CARAPACE_TELEMETRY_MAX_CONCURRENT_BATCHES',
      'Worker budget: batches one process ingests at once. Further batches wait in a short queue, then get 503, so ' +
        'a telemetry flood cannot starve the command path.',
    ),
    maxQueuedBatches: opt.integer(
      32,
      0,
      10000,
      'CARAPACE_TELEMETRY_MAX_QUEUED_BATCHES',
      'Batches that may wait for the worker budget before the gateway answers 503.',
    ),
  },
  commands: {
    stepUpMaxAge: opt.duration(
      5 * MINUTE,
      30,
      HOUR,
      'CARAPACE_COMMANDS_STEP_UP_MAX_AGE',
      'How recent a multi-factor sign-in must be (`auth_time`) for commands that need step-up (unlock, ' +
        'remote_start, trunk_open, immobilize), a vehicle transfer, opening a support case and approving an ' +
        "agent's command; and how recent any sign-in must be to change a password or enrol a second factor. " +
        'Passed to Cedar as `context.stepUpMaxAge`.',
    ),
    stateMaxAge: opt.duration(
      2 * MINUTE,
      5,
      HOUR,
      'CARAPACE_COMMANDS_STATE_MAX_AGE',
      'How old the last accepted signed telemetry may be for the vehicle-state checks; older or missing state ' +
        'denies the commands that need it.',
    ),
    idempotencyTtl: opt.duration(
      DAY,
      MINUTE,
      7 * DAY,
      'CARAPACE_COMMANDS_IDEMPOTENCY_TTL',
      'How long an Idempotency-Key is remembered per principal.',
    ),
    idempotencyReclaimAfter: opt.duration(
      60,
      1,
      HOUR,
      'CARAPACE_COMMANDS_IDEMPOTENCY_RECLAIM_AFTER',
      'How old a reservation of an Idempotency-Key may be without its job before a retry takes it over: the ' +
        'process that reserved it died between the two commits. A slow holder that is still alive cannot then ' +
        'create its job too (it confirms its reservation in the transaction that creates the job).',
    ),
    rateWindow: opt.duration(
      60,
      1,
      HOUR,
      'CARAPACE_COMMANDS_RATE_WINDOW',
      'The window of the per-user, per-client, per-vehicle, per-tenant and global command limits.',
    ),
    perUser: opt.integer(
      30,
      1,
      1_000_000,
      'CARAPACE_COMMANDS_PER_USER',
      'Commands one person may request per `commands.rateWindow` (every vehicle of a fleet command counts).',
    ),
    perClient: opt.integer(
      3000,
      1,
      10_000_000,
      'CARAPACE_COMMANDS_PER_CLIENT',
      'Commands one application may request per `commands.rateWindow`.',
    ),
    perVehicle: opt.integer(
      20,
      1,
      1_000_000,
      'CARAPACE_COMMANDS_PER_VEHICLE',
      'Commands one vehicle may receive per `commands.rateWindow`.',
    ),
    perTenant: opt.integer(
      1000,
      1,
      10_000_000,
      'CARAPACE_COMMANDS_PER_TENANT',
      'Commands to the vehicles of one tenant per `commands.rateWindow`.',
    ),
    global: opt.integer(
      100_000,
      1,
      1_000_000_000,
      'CARAPACE_COMMANDS_GLOBAL',
      'Commands the whole platform accepts per `commands.rateWindow`.',
    ),
    bulkMaxVehicles: opt.integer(100, 1, 10_000, 'CARAPACE_COMMANDS_BULK_MAX_VEHICLES', 'Largest fleet command batch.'),
    tenantConcurrency: opt.integer(
      200,
      1,
      1_000_000,
      'CARAPACE_COMMANDS_TENANT_CONCURRENCY',
      'Jobs of one tenant that may be in flight (not final) at once; one command more gets 409 ' +
        '(reason tenant_concurrency_cap), a fleet batch that would pass it 429.',
    ),
    dispatchInterval: opt.duration(
      1,
      1,
      MINUTE,
      'CARAPACE_COMMANDS_DISPATCH_INTERVAL',
      'How often each process looks for queued jobs of the vehicles connected to it and for expired jobs (Redis, ' +
        'when set, delivers at once).',
    ),
    duplicateChannel: opt.oneOf(
      ['refuse', 'quarantine'] as const,
      'refuse',
      'CARAPACE_COMMANDS_DUPLICATE_CHANNEL',
      'What a second command channel with the operational certificate of an open one gets, when the open one still ' +
        'answers a ping (a clone; the event is `commands.channel.duplicate`): `refuse` closes the newcomer (4409) and ' +
        'keeps the first; `quarantine` also quarantines the device, which closes both until an operator releases it.',
    ),
  },
  incidents: {
    autoOpenSeverity: opt.oneOf(
      ['low', 'medium', 'high', 'critical'] as const,
      'high',
      'CARAPACE_INCIDENTS_AUTO_OPEN_SEVERITY',
      'A finding at or above this severity opens an incident by itself (one per finding group; a repeat attaches to ' +
        'the open incident of its group). Findings below it are recorded for operators to open incidents from.',
    ),
    approvalVehicleThreshold: opt.integer(
      10,
      0,
      1_000_000,
      'CARAPACE_INCIDENTS_APPROVAL_VEHICLE_THRESHOLD',
      'A playbook step that touches more vehicles than this needs the approval of a second operator (never the one ' +
        "who started the run), whatever the step's mode.",
    ),
    playbooksDir: opt.optionalString(
      'CARAPACE_INCIDENTS_PLAYBOOKS_DIR',
      'Directory of playbook files (`<id>.json`). When unset, the `playbooks/` shipped with Carapace. A file that does ' +
        'not match the playbook schema refuses to start.',
    ),
    scopeLookback: opt.duration(
      24 * HOUR,
      0,
      30 * DAY,
      'CARAPACE_INCIDENTS_SCOPE_LOOKBACK',
      "How far before an incident's first sighting (or its opening) scoping searches the audit trail; the window " +
        'ends now and spans at most 31 days.',
    ),
  },
  outbound: {
    allowLoopbackHttp: opt.boolean(
      false,
      'CARAPACE_OUTBOUND_ALLOW_LOOPBACK_HTTP',
      'Development only (refused at start in production mode): let outbound calls use plain `http:` to a name ' +
        'or literal whose every address is loopback (a local test collector or receiver). Everything else stays ' +
        'https-only and public-only.',
    ),
    trustedCaFile: opt.optionalString(
      'CARAPACE_OUTBOUND_TRUSTED_CA_FILE',
      "PEM file of CA certificates trusted for outbound TLS in addition to Node's bundled roots (a private SIEM " +
        "collector's CA). Server certificates are always verified; there is no option to turn that off.",
    ),
    connectTimeout: opt.duration(
      5,
      0.05,
      MINUTE,
      'CARAPACE_OUTBOUND_CONNECT_TIMEOUT',
      'Time an outbound call may take to resolve the name and finish the TCP and TLS handshakes.',
    ),
    timeout: opt.duration(
      30,
      0.1,
      5 * MINUTE,
      'CARAPACE_OUTBOUND_TIMEOUT',
      'Longest total time of one outbound call (queue, connection, request and answer); a caller asking for more ' +
        'gets this.',
    ),
    maxResponseBytes: opt.integer(
      1024 * 1024,
      1024,
      64 * 1024 * 1024,
      'CARAPACE_OUTBOUND_MAX_RESPONSE_BYTES',
      'Largest answer body read from a destination; past it reading stops and the connection is closed. A caller ' +
        'asking for more gets this.',
    ),
    concurrency: opt.integer(
      64,
      1,
      10_000,
      'CARAPACE_OUTBOUND_CONCURRENCY',
      "The outbound layer's own worker budget: calls in flight at once in this process, over all destinations. " +
        'It is separate from the API: a slow or hostile destination uses up this budget, never a request handler.',
    ),
    queue: opt.integer(
      256,
      0,
      100_000,
      'CARAPACE_OUTBOUND_QUEUE',
      'Calls waiting for the worker budget; beyond it a call fails at once with ERR_OUTBOUND_BUSY.',
    ),
    hostConcurrency: opt.integer(
      4,
      1,
      1000,
      'CARAPACE_OUTBOUND_HOST_CONCURRENCY',
      'Calls in flight at once to one host (name and port).',
    ),
    hostQueue: opt.integer(
      16,
      0,
      10_000,
      'CARAPACE_OUTBOUND_HOST_QUEUE',
      'Calls waiting for one host; beyond it a call fails at once with ERR_OUTBOUND_BUSY.',
    ),
    breaker: {
      failures: opt.integer(
        5,
        1,
        1000,
        'CARAPACE_OUTBOUND_BREAKER_FAILURES',
        "Consecutive failures (no connection, timeout, oversized answer, 5xx) after which an endpoint's circuit " +
          'breaker opens: calls fail at once with ERR_OUTBOUND_CIRCUIT_OPEN and nothing is sent.',
      ),
      cooldown: opt.duration(
        30,
        0.05,
        HOUR,
        'CARAPACE_OUTBOUND_BREAKER_COOLDOWN',
        'How long an open breaker waits before it lets one trial call through (half-open); success closes it, ' +
          'failure opens it again.',
      ),
    },
    siem: {
      allowPrivateCidrs: opt.stringList(
        [],
        'CARAPACE_OUTBOUND_SIEM_ALLOW_PRIVATE_CIDRS',
        'CIDRs (e.g. `10.20.0.0/16`) the SIEM collector, an operator-configured destination, may resolve to ' +
          'although they are private, loopback or otherwise not public. Cloud metadata addresses stay refused. ' +
          'Webhook URLs never get such an exception.',
      ),
      breaker: opt.boolean(
        false,
        'CARAPACE_OUTBOUND_SIEM_BREAKER',
        'Put the SIEM collector behind a circuit breaker too. Off by default: the exporter has its own backoff ' +
          "and honours the collector's Retry-After, which a breaker would override.",
      ),
    },
    federation: {
      allowPrivateCidrs: opt.stringList(
        [],
        'CARAPACE_OUTBOUND_FEDERATION_ALLOW_PRIVATE_CIDRS',
        'CIDRs an external identity provider (`federation.issuers`: its discovery document and keys) may resolve ' +
          'to although they are private or otherwise not public, e.g. a Keycloak inside the network. Cloud ' +
          'metadata addresses stay refused.',
      ),
    },
    otlp: {
      allowPrivateCidrs: opt.stringList(
        [],
        'CARAPACE_OUTBOUND_OTLP_ALLOW_PRIVATE_CIDRS',
        'CIDRs the trace collector (`observability.traces.endpoint`) may resolve to although not public, e.g. a ' +
          'collector inside the network. Cloud metadata addresses stay refused.',
      ),
      allowLoopbackHttp: opt.boolean(
        false,
        'CARAPACE_OUTBOUND_OTLP_ALLOW_LOOPBACK_HTTP',
        'Let the trace exporter speak plain http to a loopback collector (a sidecar on the same host), in ' +
          'production too. Only loopback: a collector elsewhere must be https.',
      ),
    },
  },
  detect: {
    enabled: opt.boolean(
      true,
      'CARAPACE_DETECT_ENABLED',
      'Run the detection engine: it reads the audit trail as it is written and raises findings (docs/detections.md).',
    ),
    dir: opt.optionalString(
      'CARAPACE_DETECT_DIR',
      'Directory of the detection rules (`<id>.json`, with `<id>.fixtures.json`). When unset, the `detections/` ' +
        'shipped with Carapace. An invalid rule file refuses to start, naming the file and the field.',
    ),
    interval: opt.duration(
      0.5,
      0.05,
      MINUTE,
      'CARAPACE_DETECT_INTERVAL',
      'How often the engine reads new audit events (fractions of a second allowed, e.g. `0.5`).',
    ),
    batch: opt.integer(500, 1, 1000, 'CARAPACE_DETECT_BATCH', 'Audit events one round reads at most.'),
    gapSettle: opt.duration(
      30,
      1,
      HOUR,
      'CARAPACE_DETECT_GAP_SETTLE',
      'PostgreSQL only: how long the engine waits for a lower audit seq to commit after a higher one was read ' +
        'before giving it up (a rolled-back insert leaves a seq that never appears).',
    ),
    leaseTtl: opt.duration(
      5,
      2,
      MINUTE,
      'CARAPACE_DETECT_LEASE_TTL',
      'Cluster mode: the evaluation lease one node holds; another node takes over this long after a holder dies.',
    ),
    overrides: opt.json<Record<string, Record<string, unknown>>>(
      {},
      'mapping (JSON in the environment)',
      'CARAPACE_DETECT_OVERRIDES',
      'Per-rule and per-tenant overrides: `{ "<rule-id>": { "enabled": false, "threshold": 10, "window": "5m", ' +
        '"severity": "critical", "tenants": { "<tenantId>": { "threshold": 50 } } } }`. Only `enabled`, `severity` ' +
        'and the numeric and duration parameters of `evaluate` can be overridden; an unknown rule or parameter ' +
        'refuses to start.',
      overridesProblem,
    ),
    geo: opt.json<Array<{ cidr: string; latitude: number; longitude: number; label: string }>>(
      [],
      'list (JSON in the environment)',
      'CARAPACE_DETECT_GEO',
      'Where source networks are, for the `travel` rules: `[{ "cidr": "203.0.113.0/24", "latitude": 48.1, ' +
        '"longitude": 11.6, "label": "Munich" }]`. Addresses outside the table are not judged.',
      geoProblem,
    ),
  },
  federation: {
    issuers: opt.json<FederatedIssuerSettings[]>(
      [],
      'list (JSON in the environment)',
      'CARAPACE_FEDERATION_ISSUERS',
      'External OpenID Connect issuers whose ID or access tokens a Carapace app may exchange (RFC 8693, ' +
        '`grant_type=urn:ietf:params:oauth:grant-type:token-exchange` at `/oauth/token`) for a DPoP-bound Carapace ' +
        'token: `[{ "id": "corp", "issuer": "https://idp.example.com/realms/x", "audience": "carapace", ' +
        '"algorithms": ["RS256"], "clients": ["carapace-owner-app"], "mfa": { "amr": ["mfa"] } }]`. Optional: ' +
        '`jwksUri` (else discovery), `subjectClaim` (default `sub`), `linkByVerifiedEmail` (default false). Accounts ' +
        'are linked by (issuer, subject) through `POST /admin/v1/federation/links`.',
      issuersProblem,
    ),
    jwksCacheTtl: opt.duration(
      600,
      1,
      DAY,
      'CARAPACE_FEDERATION_JWKS_CACHE_TTL',
      "How long an issuer's keys are used before they are fetched again: a key the issuer removed is refused at " +
        'the latest this long after.',
    ),
    jwksRefetchCooldown: opt.duration(
      30,
      0,
      HOUR,
      'CARAPACE_FEDERATION_JWKS_REFETCH_COOLDOWN',
      "A token signed with an unknown key makes Carapace fetch the issuer's keys again (a rotation), at most once " +
        'per this period.',
    ),
    clockTolerance: opt.duration(
      30,
      0,
      5 * MINUTE,
      'CARAPACE_FEDERATION_CLOCK_TOLERANCE',
      "Clock skew allowed when checking an external token's `exp`, `nbf` and `iat`.",
    ),
  },
  observability: {
    metrics: {
      enabled: opt.boolean(
        true,
        'CARAPACE_METRICS_ENABLED',
        'Serve Prometheus metrics at `GET /metrics` on the admin plane (operator certificate required, like every ' +
          'admin route).',
      ),
    },
    traces: {
      enabled: opt.boolean(
        false,
        'CARAPACE_TRACES_ENABLED',
        'Record OpenTelemetry spans (request, authorization, job, dispatch, acknowledgement) and export them over ' +
          "OTLP/HTTP (JSON) to `endpoint`. When off, a caller's `traceparent` trace id is still kept in audit events " +
          'and logs, and nothing is exported.',
      ),
      endpoint: opt.string(
        'http://127.0.0.1:4318/v1/traces',
        'CARAPACE_TRACES_ENDPOINT',
        'The OTLP/HTTP traces endpoint (an OpenTelemetry Collector, Jaeger, Tempo). The exporter calls it with its ' +
          'own HTTP client: the operator chooses this address, no request can change it.',
      ),
      serviceName: opt.string('carapace', 'CARAPACE_TRACES_SERVICE_NAME', 'The `service.name` of exported spans.'),
      exportInterval: opt.duration(
        2,
        0.1,
        MINUTE,
        'CARAPACE_TRACES_EXPORT_INTERVAL',
        'How often finished spans are exported in a batch.',
      ),
    },
  },
  webhooks: {
    enabled: opt.boolean(
      true,
      'CARAPACE_WEBHOOKS_ENABLED',
      'Run the webhook fan-out and delivery worker. Subscriptions can be managed either way; nothing is sent when off.',
    ),
    interval: opt.duration(
      1,
      0.05,
      MINUTE,
      'CARAPACE_WEBHOOKS_INTERVAL',
      'How often the worker reads new audit events into the queue and looks for due deliveries.',
    ),
    concurrency: opt.integer(
      8,
      1,
      256,
      'CARAPACE_WEBHOOKS_CONCURRENCY',
      'The worker budget: at most this many deliveries in flight per node, whatever the endpoints do. The API, ' +
        'telemetry and the command path never wait for it.',
    ),
    batchSize: opt.integer(
      50,
      1,
      1000,
      'CARAPACE_WEBHOOKS_BATCH_SIZE',
      'At most this many audit events are fanned out, and this many deliveries claimed, per round.',
    ),
    timeout: opt.duration(
      10,
      0.1,
      MINUTE,
      'CARAPACE_WEBHOOKS_TIMEOUT',
      'How long one attempt may take before it counts as failed (passed to the outbound layer).',
    ),
    retryBase: opt.duration(
      5,
      0.01,
      HOUR,
      'CARAPACE_WEBHOOKS_RETRY_BASE',
      'First retry delay; each further failure doubles the ceiling, and the delay is drawn at random below it.',
    ),
    retryMax: opt.duration(
      HOUR,
      0.01,
      DAY,
      'CARAPACE_WEBHOOKS_RETRY_MAX',
      'The longest wait between two attempts of one delivery.',
    ),
    maxAttempts: opt.integer(
      12,
      1,
      100,
      'CARAPACE_WEBHOOKS_MAX_ATTEMPTS',
      'Attempts before a delivery is dead-lettered (replayable from the admin plane or `carapace webhooks replay`).',
    ),
    disableAfter: opt.integer(
      50,
      1,
      100_000,
      'CARAPACE_WEBHOOKS_DISABLE_AFTER',
      'Consecutive failed attempts (any delivery) after which an endpoint is disabled, audited and told so.',
    ),
    leaseTtl: opt.duration(
      30,
      1,
      HOUR,
      'CARAPACE_WEBHOOKS_LEASE_TTL',
      'How long a node holds a delivery it is attempting (and the fan-out lease): a node that dies mid-delivery ' +
        'leaves it to another after this. Must exceed `webhooks.timeout`.',
    ),
    secretOverlap: opt.duration(
      DAY,
      0,
      30 * DAY,
      'CARAPACE_WEBHOOKS_SECRET_OVERLAP',
      'After a secret rotation, deliveries carry signatures with both secrets for this long.',
    ),
    maxSubscriptionsPerTenant: opt.integer(
      100,
      1,
      10_000,
      'CARAPACE_WEBHOOKS_MAX_SUBSCRIPTIONS_PER_TENANT',
      'Subscriptions one tenant may hold (a partner registers in its own tenant). Every event is decided for ' +
        'every active subscription, so without a bound one caller could slow every delivery and multiply the ' +
        'requests sent to an endpoint; beyond it a create is refused with 409 `ERR_WEBHOOK_LIMIT_REACHED`.',
    ),
    keyOverlap: opt.duration(
      7 * DAY,
      0,
      90 * DAY,
      'CARAPACE_WEBHOOKS_KEY_OVERLAP',
      'A retired Ed25519 signing key stays in the published key set this long, so receivers can still verify.',
    ),
  },
  operators: {
    consoleUrl: opt.optionalString(
      'CARAPACE_OPERATORS_CONSOLE_URL',
      'The admin plane as browsers reach it (`https://admin.example.com:8445`): the console sign-in sends the ' +
        "authorization server's answer to `<consoleUrl>/admin/v1/operator-sign-in/callback`. When unset, " +
        '`https://localhost:<listeners.admin.port>`.',
    ),
    sessionTtl: opt.duration(
      8 * HOUR,
      5 * MINUTE,
      DAY,
      'CARAPACE_OPERATORS_SESSION_TTL',
      "How long a console session lasts after sign-in, however active (the cookie's absolute expiry).",
    ),
    sessionIdleTimeout: opt.duration(
      15 * MINUTE,
      MINUTE,
      8 * HOUR,
      'CARAPACE_OPERATORS_SESSION_IDLE_TIMEOUT',
      'A console session unused this long ends: the next request is refused and the operator signs in again.',
    ),
    elevationMaxDuration: opt.duration(
      30 * MINUTE,
      MINUTE,
      8 * HOUR,
      'CARAPACE_OPERATORS_ELEVATION_MAX_DURATION',
      'The longest just-in-time elevation an operator may ask for (`POST /admin/v1/elevations`, `minutes`).',
    ),
    approvalTtl: opt.duration(
      HOUR,
      MINUTE,
      DAY,
      'CARAPACE_OPERATORS_APPROVAL_TTL',
      "How long a request for a fleet-wide action waits for a second operator's approval, and then for its use.",
    ),
  },
  inventory: {
    usageFlushInterval: opt.duration(
      10,
      0,
      HOUR,
      'CARAPACE_INVENTORY_USAGE_FLUSH_INTERVAL',
      'How often each node adds the calls of deprecated API versions it counted in memory to `api_version_usage` ' +
        '(one upsert per route, client and vehicle, and one `http.version.deprecated_used` audit event per route ' +
        'and client); counts are also written at shutdown. `0` writes only at shutdown and on demand.',
    ),
    matrixReportFile: opt.optionalString(
      'CARAPACE_INVENTORY_MATRIX_REPORT_FILE',
      'The last report of `carapace authz-matrix --report`, read by the governance metrics. When unset, ' +
        '`<dataDir>/authz-report.json`; a missing file is "no data yet".',
    ),
    governanceWindow: opt.duration(
      30 * DAY,
      HOUR,
      365 * DAY,
      'CARAPACE_INVENTORY_GOVERNANCE_WINDOW',
      "The window the governance metrics and the inventory's consumers and logging coverage read the audit trail " +
        'over (ending now).',
    ),
    governanceSnapshotInterval: opt.duration(
      15 * MINUTE,
      MINUTE,
      DAY,
      'CARAPACE_INVENTORY_GOVERNANCE_SNAPSHOT_INTERVAL',
      'How often the governance numbers are recorded in `governance_snapshots` (one snapshot at start too), for ' +
        "the console's charts and `GET /admin/v1/governance/history`. A node records only when the newest " +
        "snapshot in the database (any node's) is at least this old.",
    ),
    governanceSnapshotRetention: opt.duration(
      90 * DAY,
      HOUR,
      5 * 365 * DAY,
      'CARAPACE_INVENTORY_GOVERNANCE_SNAPSHOT_RETENTION',
      'How long governance snapshots are kept; older ones are deleted at each snapshot.',
    ),
    matrixTargets: opt.stringList(
      [],
      'CARAPACE_INVENTORY_MATRIX_TARGETS',
      'The deployments a security admin may run the authorization matrix against from the console, as ' +
        '`name=https://host:port` (the public listener of a staging deployment seeded with `matrixScenario`). ' +
        'The console names a target, never a URL: no other address is ever probed. Empty: no run from the console.',
    ),
    matrixScenario: opt.string(
      'scenarios/demo.yaml',
      'CARAPACE_INVENTORY_MATRIX_SCENARIO',
      'The scenario the matrix targets were seeded with (`carapace authz-matrix --scenario`).',
    ),
    matrixTargetCa: opt.optionalString(
      'CARAPACE_INVENTORY_MATRIX_TARGET_CA',
      "The CA file that signed the targets' server certificates. When unset, `<dataDir>/pki/ca.pem`.",
    ),
    matrixPartnerKeysDir: opt.optionalString(
      'CARAPACE_INVENTORY_MATRIX_PARTNER_KEYS_DIR',
      "The directory of the scenario partners' private JWKs for a matrix run. When unset, `<dataDir>/demo`.",
    ),
  },
};

type ConfigOf<S> = S extends Option<infer T> ? T : { readonly [K in keyof S]: ConfigOf<S[K]> };

/** The validated configuration. */
export type Config = ConfigOf<typeof configSchema>;
