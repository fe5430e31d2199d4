import type { Kysely } from 'kysely';
import {
  type AuditPivot,
  type AuditProofs,
  createAuditPivotSearch,
  type InclusionProof,
  type StoredAuditEvent,
} from '../audit/index.js';
import { jobOutcomes } from '../commands/index.js';
import { CarapaceError, type Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { summarizeTelemetry, type TelemetryWindowSummary } from '../telemetry/index.js';
import { findVehicleByVin, findVehicles } from '../vehicles/index.js';
import { DEFAULT_FOLLOW, expand, type Followable } from './expand.js';
import {
  type AffectedVehicle,
  affectedVehicles,
  type DecisionNode,
  decisionsOf,
  type GraphNodes,
  nodesOf,
  type RequestNode,
  requestsOf,
} from './graph.js';

/** What an investigation can start from: the audit pivots, `partner` (a client) and `vin` (resolved to a vehicle). */
export const PIVOTS = [
  'request',
  'trace',
  'jti',
  'user',
  'client',
  'partner',
  'device',
  'serial',
  'thumbprint',
  'source',
  'job',
  'vehicle',
  'vin',
] as const;
/** A pivot an investigation starts from. */
export type Pivot = (typeof PIVOTS)[number];

/** The bounds' defaults and ceilings; a caller may lower them, never raise them past the ceiling. */
export const LIMITS = {
  defaultWindowHours: 24,
  maxWindowDays: 31,
  maxEvents: { default: 1000, max: 5000 },
  maxHops: { default: 2, max: 4 },
  maxPivotsPerHop: 200,
  maxVehicles: 100,
  maxProofs: 200,
} as const;

/** One investigation request. */
export interface InvestigationQuery {
  pivot: Pivot;
  value: string;
  from?: string;
  to?: string;
  follow?: readonly Followable[];
  maxEvents?: number;
  maxHops?: number;
  proofs?: boolean;
}

/** One affected vehicle, with what the vehicles, commands and telemetry modules record about it. */
export interface VehicleFinding extends AffectedVehicle {
  /** False when no vehicle has this id: a refused attempt on an id that does not exist. */
  known: boolean;
  vin: string | null;
  telemetry: TelemetryWindowSummary | null;
}

/** A command job the events name, with its outcome as the commands module stores it now. */
export interface CommandFinding {
  jobId: string;
  vehicleId: string;
  command: string;
  state: string;
  reason: string | null;
  retry: string | null;
  requesterId: string;
  clientId: string;
  policyVersion: string;
  createdAt: string;
  updatedAt: string;
  events: string[];
}

/** The answer: the connected graph around the pivot, the affected vehicles with evidence, and every bound hit. */
export interface Investigation {
  pivot: { kind: Pivot; value: string; searchedAs: { kind: AuditPivot; value: string } | null };
  window: { from: string; to: string };
  bounds: { maxEvents: number; maxHops: number; follow: Followable[] };
  truncated: boolean;
  truncation: string[];
  hops: number;
  searched: { kind: string; value: string; hop: number; events: number }[];
  vehicles: VehicleFinding[];
  requests: RequestNode[];
  nodes: GraphNodes;
  commands: CommandFinding[];
  decisions: DecisionNode[];
  events: StoredAuditEvent[];
  /** Inclusion proofs of the affected vehicles' evidence, when asked for; `unsealed` lists events without one yet. */
  proofs: { inclusion: InclusionProof[]; unsealed: string[] } | null;
  notRecorded: string[];
}

/**
 * What the platform does not record, said in every answer so that an empty field is not read as "nothing
 * happened". Keep in step with the writers (src/<module>/audit-events.ts and their `details`).
 */
export const NOT_RECORDED = [
  'Accepted telemetry is not an audit event: the telemetry section counts the raw store per vehicle instead.',
  "A vehicle's software version and configuration are only what its unit reported in telemetry (sw_version, " +
    'config_id); nothing else about its configuration is recorded.',
  'The backend service is recorded only on command requests (chain_backend); other requests name none.',
  'Token issuance names the client and the jti but not the request of the user who signed in.',
  'A command job outcome is its state now; its history is in the events (commands.job.transitioned).',
] as const;

/** The investigator: expands from a pivot and asks the other modules for what they know of what it found. */
export interface Investigator {
  investigate(query: InvestigationQuery): Promise<Investigation>;
}

/** Creates the investigator over the platform database (searched through the audit module) and the proofs. */
export function createInvestigator(deps: {
  db: Kysely<Database>;
  proofs: Pick<AuditProofs, 'inclusionOfEach'>;
  clock: Clock;
}): Investigator {
  const search = createAuditPivotSearch({ db: deps.db });
  return {
    async investigate(query) {
      const window = windowOf(query, deps.clock);
      const bounds = boundsOf(query);
      const seed = await seedOf(deps.db, query);
      const expansion = seed
        ? await expand(search, seed, bounds.follow, { ...window, ...bounds, maxPivotsPerHop: LIMITS.maxPivotsPerHop })
        : { events: [], searched: [], hops: 0, truncation: [] };
      const { events } = expansion;
      const nodes = nodesOf(events);
      // jobOutcomes answers at most 500 ids per call: a job past them would leave its vehicle out unsaid.
      const jobs = await inChunks(nodes.jobIds, (chunk) => jobOutcomes(deps.db, chunk));
      const affected = affectedVehicles(events, new Map(jobs.map((j) => [j.id, j.vehicle_id])));
      const truncation = [...expansion.truncation];
      if (affected.length > LIMITS.maxVehicles)
        truncation.push(`maxVehicles: facts for the first ${LIMITS.maxVehicles} of ${affected.length} vehicles`);
      const vehicles = await vehicleFacts(deps.db, affected, window);
      const proofs = query.proofs ? await proofsOf(deps.proofs, vehicles, truncation) : null;
      return {
        pivot: { kind: query.pivot, value: query.value, searchedAs: seed },
        window,
        bounds,
        truncated: truncation.length > 0,
        truncation,
        hops: expansion.hops,
        searched: expansion.searched,
        vehicles,
        requests: requestsOf(events),
        nodes,
        commands: jobs.map((j) => ({
          jobId: j.id,
          vehicleId: j.vehicle_id,
          command: j.command,
          state: j.state,
          reason: j.reason,
          retry: j.retry,
          requesterId: j.requester_id,
          clientId: j.client_id,
          policyVersion: j.policy_version,
          createdAt: j.created_at,
          updatedAt: j.updated_at,
          events: events.filter((e) => e.object?.id === j.id || e.details.jobId === j.id).map((e) => e.id),
        })),
        decisions: decisionsOf(events),
        events,
        proofs,
        notRecorded: [...NOT_RECORDED],
      };
    },
  };
}

function windowOf(query: InvestigationQuery, clock: Clock): { from: string; to: string } {
  const to = query.to ? instant(query.to, 'to') : clock.now();
  const from = query.from ? instant(query.from, 'from') : new Date(to.getTime() - LIMITS.defaultWindowHours * 3600e3);
  if (from.getTime() >= to.getTime())
    throw new CarapaceError('ERR_VALIDATION', 'the window is empty or inverted: from must be before to', {
      field: 'from',
      reason: 'inverted_window',
    });
  if (to.getTime() - from.getTime() > LIMITS.maxWindowDays * 86400e3)
    throw new CarapaceError('ERR_VALIDATION', `the window may span at most ${LIMITS.maxWindowDays} days`, {
      field: 'from',
      reason: 'window_too_long',
    });
  return { from: from.toISOString(), to: to.toISOString() };
}

/** An ISO 8601 date-time with an explicit offset: without one it would be read in the server's own time zone. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function instant(value: string, field: 'from' | 'to'): Date {
  const m = DATE_TIME.exec(value);
  const d = new Date(value);
  // Date rolls a day that does not exist over (February 30th is March 2nd): the fields must survive the parse.
  const exists = m && new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!)).toISOString().startsWith(value.slice(0, 10));
  if (!m || !exists || Number.isNaN(d.getTime()) || +m[4]! > 23)
    throw new CarapaceError('ERR_VALIDATION', `${field} must be an ISO 8601 date-time with Z or an offset`, {
      field,
      reason: 'invalid_time',
    });
  return d;
}

function boundsOf(query: InvestigationQuery): Investigation['bounds'] {
  const clamp = (v: number | undefined, b: { default: number; max: number }) =>
    Math.min(Math.max(Math.trunc(v ?? b.default), 1), b.max);
  return {
    maxEvents: clamp(query.maxEvents, LIMITS.maxEvents),
    maxHops: Math.min(Math.max(Math.trunc(query.maxHops ?? LIMITS.maxHops.default), 0), LIMITS.maxHops.max),
    follow: [...new Set(query.follow ?? DEFAULT_FOLLOW)],
  };
}

/** The audit pivot the query searches: a partner is a client, a VIN is its vehicle (none if no vehicle has it). */
async function seedOf(
  db: Kysely<Database>,
  query: InvestigationQuery,
): Promise<{ kind: AuditPivot; value: string } | null> {
  if (query.pivot === 'partner') return { kind: 'client', value: query.value };
  if (query.pivot === 'vin') {
    const vehicle = await findVehicleByVin(db, query.value.toUpperCase());
    return vehicle ? { kind: 'vehicle', value: vehicle.id } : null;
  }
  return { kind: query.pivot, value: query.value };
}

/** Runs `read` over `ids` in chunks of at most 500 (each module's bulk reads take at most that many). */
async function inChunks<T>(ids: readonly string[], read: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += 500) out.push(...(await read(ids.slice(i, i + 500))));
  return out;
}

async function vehicleFacts(
  db: Kysely<Database>,
  affected: AffectedVehicle[],
  window: { from: string; to: string },
): Promise<VehicleFinding[]> {
  // Whether a vehicle exists is asked of every one (one indexed read per chunk): only telemetry is bounded, so a
  // vehicle past the first hundred is never reported as an id no vehicle has.
  const ids = affected.slice(0, LIMITS.maxVehicles).map((v) => v.vehicleId);
  const [rows, telemetry] = await Promise.all([
    inChunks(
      affected.map((v) => v.vehicleId),
      (chunk) => findVehicles(db, chunk),
    ),
    summarizeTelemetry(db, { vehicleIds: ids, ...window }),
  ]);
  const vins = new Map(rows.map((r) => [r.id, r.vin]));
  const summaries = new Map(telemetry.map((t) => [t.vehicleId, t]));
  return affected.map((v) => ({
    ...v,
    known: vins.has(v.vehicleId),
    vin: vins.get(v.vehicleId) ?? null,
    telemetry: vins.has(v.vehicleId) ? (summaries.get(v.vehicleId) ?? null) : null,
  }));
}

async function proofsOf(
  proofs: Pick<AuditProofs, 'inclusionOfEach'>,
  vehicles: VehicleFinding[],
  truncation: string[],
): Promise<NonNullable<Investigation['proofs']>> {
  const all = [...new Set(vehicles.flatMap((v) => v.evidence))];
  if (all.length > LIMITS.maxProofs)
    truncation.push(`maxProofs: proofs for ${LIMITS.maxProofs} of ${all.length} evidence events`);
  const ids = all.slice(0, LIMITS.maxProofs);
  const got = await proofs.inclusionOfEach(ids).catch((err: unknown) => {
    // No checkpoint yet: every event is unsealed, which the answer says rather than failing.
    if (err instanceof CarapaceError && err.code === 'ERR_AUDIT_NOT_SEALED') return new Map<string, null>();
    throw err;
  });
  const inclusion = ids.map((id) => got.get(id)).filter((p): p is InclusionProof => !!p);
  return { inclusion, unsealed: ids.filter((id) => !got.get(id)) };
}
