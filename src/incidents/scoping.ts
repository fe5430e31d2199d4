import type { FindingAssets } from '../detect/index.js';
import { type Investigator, LIMITS, type Pivot } from '../investigation/index.js';

/** One affected vehicle of an incident, with the audit events that show it and the pivots that led there. */
export interface ScopedVehicle {
  vehicleId: string;
  vin: string | null;
  known: boolean;
  outcome: 'acted' | 'denied';
  evidence: string[];
  via: string[];
}

/** An incident's scoping result, stored on it. */
export interface Scope {
  window: { from: string; to: string };
  vehicles: ScopedVehicle[];
  devices: string[];
  pivots: { kind: string; value: string; vehicles: number }[];
  truncated: boolean;
  truncation: string[];
  startedAt: string;
  doneAt: string;
  durationMs: number;
}

/** Asset kind -> investigation pivot. Networks are /24 or /64 prefixes; the `source` pivot takes one address. */
const PIVOT_OF: Partial<Record<keyof FindingAssets, Pivot>> = {
  vehicles: 'vehicle',
  devices: 'device',
  users: 'user',
  clients: 'client',
  serials: 'serial',
  thumbprints: 'thumbprint',
};

/** At most this many pivots are investigated per scoping (each is one bounded investigation). */
export const MAX_SCOPE_PIVOTS = 50;
const EVIDENCE_PER_VEHICLE = 50;

/**
 * Scopes an incident with the investigation module: one investigation per asset (user, client, device, serial,
 * thumbprint, vehicle) over the window, the affected vehicles merged with their evidence event ids.
 */
export async function scopeAssets(
  investigator: Investigator,
  assets: FindingAssets,
  window: { from: Date; to: Date },
  now: () => Date,
): Promise<Scope> {
  const started = now();
  const from = new Date(Math.max(window.from.getTime(), window.to.getTime() - LIMITS.maxWindowDays * 86400e3 + 1000));
  const w = { from: from.toISOString(), to: window.to.toISOString() };
  const pivots = Object.entries(PIVOT_OF).flatMap(([kind, pivot]) =>
    assets[kind as keyof FindingAssets].map((value) => ({ pivot: pivot as Pivot, value })),
  );
  const truncation: string[] = [];
  if (pivots.length > MAX_SCOPE_PIVOTS) truncation.push(`pivots: ${MAX_SCOPE_PIVOTS} of ${pivots.length} investigated`);
  if (assets.networks.length > 0)
    truncation.push('networks: a prefix is not an investigation pivot (source takes one address); not followed');
  const vehicles = new Map<string, ScopedVehicle>();
  const devices = new Set<string>(assets.devices);
  const done: Scope['pivots'] = [];
  for (const p of pivots.slice(0, MAX_SCOPE_PIVOTS)) {
    const r = await investigator.investigate({ pivot: p.pivot, value: p.value, from: w.from, to: w.to });
    if (r.truncated) truncation.push(...r.truncation.map((t) => `${p.pivot}=${p.value}: ${t}`));
    for (const d of r.nodes.devices) devices.add(d);
    for (const v of r.vehicles) {
      const seen = vehicles.get(v.vehicleId);
      const via = `${p.pivot}:${p.value}`;
      if (!seen) {
        vehicles.set(v.vehicleId, {
          vehicleId: v.vehicleId,
          vin: v.vin,
          known: v.known,
          outcome: v.outcome,
          evidence: v.evidence.slice(0, EVIDENCE_PER_VEHICLE),
          via: [via],
        });
        continue;
      }
      seen.evidence = [...new Set([...seen.evidence, ...v.evidence])].slice(0, EVIDENCE_PER_VEHICLE);
      if (v.outcome === 'acted') seen.outcome = 'acted';
      if (!seen.via.includes(via)) seen.via.push(via);
    }
    done.push({ kind: p.pivot, value: p.value, vehicles: r.vehicles.length });
  }
  const doneAt = now();
  return {
    window: w,
    vehicles: [...vehicles.values()].sort((a, b) => a.vehicleId.localeCompare(b.vehicleId)),
    devices: [...devices].sort(),
    pivots: done,
    truncated: truncation.length > 0,
    truncation: truncation.slice(0, 50),
    startedAt: started.toISOString(),
    doneAt: doneAt.toISOString(),
    durationMs: doneAt.getTime() - started.getTime(),
  };
}
