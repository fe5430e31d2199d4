import type { FindingAssets } from '../detect/index.js';
import { ASSET_LIMIT } from '../detect/index.js';

/** The asset kinds, in a fixed order. */
export const ASSET_KINDS = [
  'vehicles',
  'devices',
  'users',
  'clients',
  'tenants',
  'serials',
  'thumbprints',
  'networks',
] as const satisfies readonly (keyof FindingAssets)[];

/** No assets. */
export function noAssets(): FindingAssets {
  return { vehicles: [], devices: [], users: [], clients: [], tenants: [], serials: [], thumbprints: [], networks: [] };
}

/** The union of asset lists, each sorted, deduplicated and bounded like a finding's. */
export function mergeAssets(...all: Partial<FindingAssets>[]): FindingAssets {
  const out = noAssets();
  for (const kind of ASSET_KINDS) {
    const set = new Set<string>();
    for (const a of all) for (const v of a[kind] ?? []) set.add(v);
    out[kind] = [...set].sort().slice(0, ASSET_LIMIT);
  }
  return out;
}

/** Parses stored assets (JSON), tolerating kinds added later. */
export function parseAssets(text: string): FindingAssets {
  return mergeAssets(JSON.parse(text) as Partial<FindingAssets>);
}
