import type { Kysely } from 'kysely';
import type { AuditHolds, AuditProofs, RequestContext } from '../audit/index.js';
import type { Auth } from '../auth/index.js';
import type { CommandKeys } from '../commands/index.js';
import type { FindingAssets } from '../detect/index.js';
import { type Directory, findApplication, findWorkload } from '../identity/index.js';
import {
  activeDeviceIds,
  certificatesOf,
  currentDeviceOf,
  findCertificate,
  findCertificateByThumbprint,
  findDevice,
  type Pki,
} from '../pki/index.js';
import { type RelationshipStore, relationshipsInForce } from '../relationships/index.js';
import { isCarapaceError } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { type Reverification, reverifyDeviceTelemetry, type Telemetry } from '../telemetry/index.js';
import type { Action, PlaybookStepSpec } from './playbooks.js';
import type { Scope } from './scoping.js';

/** What an incident offers a playbook: its assets, its scope, and the findings' evidence. */
export interface IncidentFacts {
  id: string;
  tenantId: string | null;
  assets: FindingAssets;
  scope: Scope | null;
  firstSeen: string | null;
  openedAt: string;
  evidence: string[];
}

/** A notification a step queues (the outbox is the incidents module's own table). */
export interface QueuedNotification {
  recipientKind: 'user' | 'tenant' | 'operator';
  recipientId: string;
  template: string;
  details: Record<string, string | number | null>;
}

/** The other modules' exported operations the actions call, narrowed to what they use. */
export interface ResponsePorts {
  db: Kysely<Database>;
  now(): Date;
  pki: Pick<Pki, 'changeDeviceStatus' | 'revokeCertificate'>;
  telemetry: { quarantine: Pick<Telemetry['quarantine'], 'impose'> };
  directory: Pick<Directory, 'resetMfa' | 'endSessions'>;
  auth: Pick<Auth, 'revokeClientTokens' | 'suspendClient'>;
  relationships: Pick<RelationshipStore, 'inForce' | 'end'>;
  commandKeys: Pick<CommandKeys, 'rotate' | 'version' | 'withdraw' | 'coverage'>;
  /** Pushes the current key set to the vehicles connected here (other nodes push at their next dispatch tick). */
  pushKeys(): Promise<void>;
  holds: Pick<AuditHolds, 'add'>;
  proofs: Pick<AuditProofs, 'inclusionOfEach'>;
  /** Seals the audit trail now (everything committed) and signs a checkpoint, so the evidence has proofs. */
  sealAudit(): Promise<void>;
  /** Scopes the incident again (the incident.scope step). */
  scope(incidentId: string): Promise<Scope>;
  /** Queues notifications in the outbox, audited. */
  notify(incidentId: string, notes: QueuedNotification[]): Promise<string[]>;
}

/** What a step's targets are, for the two-person rule and the governance numbers. */
export type TargetKind = 'vehicle' | 'user' | 'partner' | 'service' | 'key' | 'evidence' | 'notification';

/** A step's resolved targets: ids of its kind, and the vehicles it touches. */
export interface Resolved {
  targetKind: TargetKind;
  targets: string[];
  vehicles: string[];
  /** The least approval these targets need (2: a second operator), whatever the step's mode and vehicle count. */
  minApproval?: 1 | 2;
}

/** How one step runs. */
export interface StepRun {
  incident: IncidentFacts;
  targets: string[];
  params: NonNullable<PlaybookStepSpec['params']>;
  actor: { type: 'operator'; id: string };
  reason: string;
  context: RequestContext | null;
}

interface ActionDef {
  /** True for steps that contain a compromise (their effect is time to contain / revoke). */
  containment: boolean;
  /**
   * The least approval the action needs whatever the playbook's mode says (2: a second operator). Removing a
   * second factor hands the account to whoever knows its password, and the users come from findings an outside
   * party can stage (failed sign-ins name the accounts tried), so no playbook may do it unattended.
   */
  minApproval?: 1 | 2;
  resolve(ports: ResponsePorts, incident: IncidentFacts, from: readonly ('assets' | 'scope')[]): Promise<Resolved>;
  run(ports: ResponsePorts, step: StepRun): Promise<Record<string, unknown>>;
}

const uniq = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** The devices an incident names (directly, by certificate, by vehicle, and from its scope when asked). */
async function devicesOf(ports: ResponsePorts, incident: IncidentFacts, from: readonly string[]) {
  const { db } = ports;
  const a = incident.assets;
  const ids = new Set(a.devices);
  for (const s of a.serials) {
    const c = await findCertificate(db, s);
    if (c?.device_id) ids.add(c.device_id);
  }
  for (const t of a.thumbprints) {
    const c = await findCertificateByThumbprint(db, t);
    if (c?.device_id) ids.add(c.device_id);
  }
  const vehicles = new Set(a.vehicles);
  if (from.includes('scope') && incident.scope) {
    for (const v of incident.scope.vehicles) vehicles.add(v.vehicleId);
    for (const d of incident.scope.devices) ids.add(d);
  }
  for (const v of vehicles) {
    const d = await currentDeviceOf(db, v);
    if (d) ids.add(d.id);
  }
  const devices: string[] = [];
  const touched = new Set<string>();
  for (const id of ids) {
    const d = await findDevice(db, id);
    if (!d) continue;
    devices.push(d.id);
    touched.add(d.vehicle_id);
  }
  return { devices: uniq(devices), vehicles: uniq(touched) };
}

const deviceTargets = async (ports: ResponsePorts, i: IncidentFacts, from: readonly string[]): Promise<Resolved> => {
  const { devices, vehicles } = await devicesOf(ports, i, from);
  return { targetKind: 'vehicle', targets: devices, vehicles };
};

/**
 * The clients an incident names: partners (applications) or service identities (workloads), and their grants. A
 * finding about a user names the app the user signed in with (`applicationId`): the owner app or the fleet console,
 * shared by every user. Acting on such a first-party app (not a partner) cuts off all of them, and it has no partner
 * grants to count as vehicles, so it needs a second operator.
 */
async function clientTargets(ports: ResponsePorts, incident: IncidentFacts): Promise<Resolved> {
  let partner = false;
  let shared = false;
  const vehicles = new Set<string>();
  const at = ports.now().toISOString();
  for (const c of incident.assets.clients) {
    const app = await findApplication(ports.db, c);
    if (app) {
      partner = true;
      if (app.kind !== 'partner') shared = true;
      // A partner grant names the application by its client id.
      const grants = await relationshipsInForce(ports.db, at, { kind: 'partner_grant', applicationId: c });
      for (const g of grants) if (g.vehicle_id) vehicles.add(g.vehicle_id);
    } else if (!(await findWorkload(ports.db, c))) partner = true;
  }
  return {
    targetKind: partner || incident.assets.clients.length === 0 ? 'partner' : 'service',
    targets: incident.assets.clients,
    vehicles: uniq(vehicles),
    ...(shared ? { minApproval: 2 as const } : {}),
  };
}

async function everyVehicle(ports: ResponsePorts): Promise<string[]> {
  const vehicles = new Set<string>();
  for (const id of await activeDeviceIds(ports.db)) {
    const d = await findDevice(ports.db, id);
    if (d) vehicles.add(d.vehicle_id);
  }
  return uniq(vehicles);
}

const currentKid = async (ports: ResponsePorts) =>
  (await ports.commandKeys.version())
    .split(',')
    .find((k) => k.startsWith('current:'))
    ?.slice('current:'.length) ?? '';

const reasonOf = (s: StepRun) => `incident ${s.incident.id}: ${s.reason}`.slice(0, 500);
const none = async (): Promise<Resolved> => ({ targetKind: 'evidence', targets: [], vehicles: [] });

/** Every action: how its targets are found, and what it does through the owning module. */
export const ACTION_DEFS: Record<Action, ActionDef> = {
  'device.suspend': {
    containment: true,
    resolve: deviceTargets,
    async run(ports, s) {
      const out: Record<string, string> = {};
      for (const id of s.targets) {
        const d = await findDevice(ports.db, id);
        if (d?.status !== 'active') {
          out[id] = `unchanged (${d?.status ?? 'unknown'})`;
          continue;
        }
        await ports.pki.changeDeviceStatus({
          deviceId: id,
          to: 'quarantined',
          reason: reasonOf(s),
          actor: s.actor,
          context: s.context,
        });
        out[id] = 'quarantined';
      }
      return { devices: out };
    },
  },
  'certificate.revoke': {
    containment: true,
    async resolve(ports, incident, from) {
      const { devices, vehicles } = await devicesOf(ports, incident, from);
      const serials = new Set(incident.assets.serials);
      for (const d of devices)
        for (const c of await certificatesOf(ports.db, d)) if (c.status !== 'revoked') serials.add(c.serial);
      return { targetKind: 'vehicle', targets: uniq(serials), vehicles };
    },
    async run(ports, s) {
      const revoked: string[] = [];
      for (const serial of s.targets) {
        const r = await ports.pki.revokeCertificate({
          serial,
          reason: 'keyCompromise',
          actor: s.actor,
          context: s.context,
        });
        revoked.push(...r.revokedSerials);
      }
      return { revoked, alreadyRevoked: s.targets.filter((t) => !revoked.includes(t)) };
    },
  },
  'telemetry.quarantine': {
    containment: true,
    resolve: deviceTargets,
    async run(ports, s) {
      const out: Record<string, string> = {};
      for (const id of s.targets) {
        const r = await ports.telemetry.quarantine.impose({
          deviceId: id,
          actor: s.actor,
          reason: reasonOf(s),
          context: s.context,
        });
        out[id] = r.changed ? `quarantined (${r.status})` : `unchanged (${r.status})`;
      }
      return { devices: out };
    },
  },
  'telemetry.reverify': {
    containment: false,
    resolve: deviceTargets,
    async run(ports, s) {
      const until = ports.now();
      const since = new Date(until.getTime() - (s.params.lookbackHours ?? 24) * 3600e3);
      const per: Reverification[] = [];
      for (const id of s.targets) per.push(await reverifyDeviceTelemetry(ports.db, { deviceId: id, since, until }));
      const sum = (k: 'messages' | 'verified' | 'failed' | 'acceptedButFailed') => per.reduce((n, r) => n + r[k], 0);
      return {
        lookbackHours: s.params.lookbackHours ?? 24,
        messages: sum('messages'),
        verified: sum('verified'),
        failed: sum('failed'),
        acceptedButFailed: sum('acceptedButFailed'),
        devices: per,
      };
    },
  },
  'device.retire': {
    containment: false,
    resolve: deviceTargets,
    async run(ports, s) {
      const out: Record<string, string> = {};
      const notes: QueuedNotification[] = [];
      for (const id of s.targets) {
        const d = await findDevice(ports.db, id);
        if (!d || d.status === 'decommissioned') {
          out[id] = `unchanged (${d?.status ?? 'unknown'})`;
          continue;
        }
        await ports.pki.changeDeviceStatus({
          deviceId: id,
          to: 'decommissioned',
          reason: `${reasonOf(s)} (${s.params.disposition ?? 're-provision'})`.slice(0, 500),
          actor: s.actor,
          context: s.context,
        });
        out[id] = `decommissioned, marked for ${s.params.disposition ?? 're-provision'}`;
        notes.push({
          recipientKind: 'operator',
          recipientId: 'fleet-operations',
          template: `device-${s.params.disposition ?? 're-provision'}`,
          details: { deviceId: id, vehicleId: d.vehicle_id },
        });
      }
      const notifications = await ports.notify(s.incident.id, notes);
      return { devices: out, notifications };
    },
  },
  'account.end_sessions': {
    containment: true,
    resolve: async (_p, i) => ({ targetKind: 'user', targets: i.assets.users, vehicles: [] }),
    async run(ports, s) {
      const ended: Record<string, number> = {};
      for (const u of s.targets) ended[u] = (await ports.directory.endSessions(s.actor, u, reasonOf(s))).endedSessions;
      return { endedSessions: ended };
    },
  },
  'account.reset_mfa': {
    containment: false,
    minApproval: 2,
    resolve: async (_p, i) => ({ targetKind: 'user', targets: i.assets.users, vehicles: [] }),
    async run(ports, s) {
      for (const u of s.targets) await ports.directory.resetMfa(s.actor, u, null);
      return { reset: s.targets };
    },
  },
  'notify.user': {
    containment: false,
    resolve: async (_p, i) => ({ targetKind: 'notification', targets: i.assets.users, vehicles: [] }),
    async run(ports, s) {
      const template = s.params.template ?? 'incident';
      const ids = await ports.notify(
        s.incident.id,
        s.targets.map((u) => ({ recipientKind: 'user', recipientId: u, template, details: {} })),
      );
      return { notifications: ids };
    },
  },
  'client.suspend': {
    containment: true,
    resolve: clientTargets,
    async run(ports, s) {
      for (const c of s.targets) await ports.auth.suspendClient({ clientId: c, actor: s.actor, reason: reasonOf(s) });
      return { suspended: s.targets };
    },
  },
  'client.revoke_tokens': {
    containment: true,
    resolve: clientTargets,
    async run(ports, s) {
      for (const c of s.targets)
        await ports.auth.revokeClientTokens({ clientId: c, actor: s.actor, reason: reasonOf(s) });
      return { revoked: s.targets };
    },
  },
  'client.end_grants': {
    containment: false,
    resolve: clientTargets,
    async run(ports, s) {
      const ended: string[] = [];
      for (const c of s.targets) {
        for (const g of await ports.relationships.inForce({ applicationId: c, kind: 'partner_grant' })) {
          await ports.relationships.end({ type: 'operator', id: s.actor.id }, g.id, reasonOf(s));
          ended.push(g.id);
        }
      }
      return { endedGrants: ended };
    },
  },
  'notify.vehicle_owners': {
    containment: false,
    async resolve(ports, incident, from) {
      const r = await clientTargets(ports, incident);
      const vehicles = new Set(r.vehicles);
      if (from.includes('scope')) for (const v of incident.scope?.vehicles ?? []) vehicles.add(v.vehicleId);
      return { targetKind: 'notification', targets: uniq(vehicles), vehicles: uniq(vehicles) };
    },
    async run(ports, s) {
      const owners = await relationshipsInForce(ports.db, ports.now().toISOString(), {
        kind: 'ownership',
        vehicleIds: s.targets,
      });
      const template = s.params.template ?? 'incident';
      const notes = owners
        .filter((o) => o.user_id)
        .map((o) => ({
          recipientKind: 'user' as const,
          recipientId: o.user_id!,
          template,
          details: { vehicleId: o.vehicle_id },
        }));
      return { owners: notes.length, notifications: await ports.notify(s.incident.id, notes) };
    },
  },
  'command_key.rotate': {
    containment: true,
    resolve: async (ports) => ({
      targetKind: 'key',
      targets: [await currentKid(ports)],
      vehicles: await everyVehicle(ports),
    }),
    async run(ports, s) {
      const before = await currentKid(ports);
      if (before !== s.targets[0]) return { rotated: false, reason: `already rotated: ${before} is current` };
      const r = await ports.commandKeys.rotate(s.actor.id);
      return { rotated: true, retired: before, current: r.current, next: r.next };
    },
  },
  'command_key.push': {
    containment: false,
    resolve: async (ports) => ({ targetKind: 'key', targets: [], vehicles: await everyVehicle(ports) }),
    async run(ports) {
      await ports.pushKeys();
      const c = await ports.commandKeys.coverage();
      return { next: c.next, activeDevices: c.active, confirmedNext: c.withNext };
    },
  },
  'command_key.withdraw': {
    containment: false,
    resolve: async (ports) => ({ targetKind: 'key', targets: [await currentKid(ports)], vehicles: [] }),
    async run(ports, s) {
      const out = [];
      for (const kid of s.targets) out.push(await ports.commandKeys.withdraw(kid, s.actor.id));
      return { withdrawn: out };
    },
  },
  'incident.scope': {
    containment: false,
    resolve: none,
    async run(ports, s) {
      const scope = await ports.scope(s.incident.id);
      return { vehicles: scope.vehicles.length, devices: scope.devices.length, durationMs: scope.durationMs };
    },
  },
  'evidence.hold': {
    containment: false,
    resolve: none,
    async run(ports, s) {
      const start = Date.parse(s.incident.firstSeen ?? s.incident.openedAt);
      const from = new Date(start - (s.params.holdHoursBefore ?? 24) * 3600e3).toISOString();
      const hold = await ports.holds.add(
        { from, to: ports.now().toISOString(), reason: reasonOf(s) },
        { actor: s.actor, context: s.context },
      );
      return { holdId: hold.id, from: hold.from, to: hold.to };
    },
  },
  'evidence.proofs': {
    containment: false,
    resolve: async (_p, i) => ({ targetKind: 'evidence', targets: i.evidence.slice(0, 200), vehicles: [] }),
    async run(ports, s) {
      await ports.sealAudit();
      const got = await ports.proofs.inclusionOfEach(s.targets).catch((err: unknown) => {
        // Nothing sealed yet: every event is unsealed, which the result says.
        if (isCarapaceError(err, 'ERR_AUDIT_NOT_SEALED')) return new Map<string, null>();
        throw err;
      });
      const proofs = [...got.values()].filter((p) => p !== null);
      return {
        proved: proofs.length,
        unsealed: s.targets.filter((id) => !got.get(id)),
        proofs: proofs.map((p) => ({
          eventId: p.eventId,
          leafIndex: p.leafIndex,
          leafHash: p.leafHash,
          auditPath: p.auditPath,
          treeSize: p.checkpoint.treeSize,
          rootHash: p.checkpoint.rootHash,
        })),
      };
    },
  },
};
