import type { Ids } from './resolve.js';
import type { World } from './world.js';

/**
 * What a vehicle's list routes must hold, in the product's words: its owner sees the drivers whose delegation runs
 * now and the invites still pending ("a vehicle's drivers and pending invites"), and the partners whose consent
 * runs now; nothing ended, expired or revoked. Each entry names the response's arrays and the matrix objects that
 * belong in them.
 */
const LIST_CONTENTS: Record<string, Array<{ field: string; want: (world: World, vehicle: string) => string[] }>> = {
  'delegation:list': [
    {
      field: 'delegations',
      want: (world, vehicle) =>
        world.delegations.filter((d) => d.vehicle === vehicle && !d.ended && d.until > world.now()).map((d) => d.key),
    },
    {
      field: 'invites',
      want: (world, vehicle) =>
        world.invites.filter((i) => i.vehicle === vehicle && i.status === 'pending').map((i) => i.key),
    },
  ],
  'service_case:list_for_vehicle': [
    {
      field: 'cases',
      want: (world, vehicle) =>
        world.serviceCases
          .filter((c) => c.vehicle === vehicle && c.requestedAt >= (world.ownerSince.get(vehicle) ?? -Infinity))
          .map((c) => c.key),
    },
  ],
  'partner_grant:list': [
    {
      field: 'grants',
      want: (world, vehicle) =>
        world.partnerGrants.filter((g) => g.vehicle === vehicle && !g.ended && g.until > world.now()).map((g) => g.key),
    },
  ],
};

/** Whether the matrix checks the contents of this action's list. */
export const checksContents = (action: string): boolean => action in LIST_CONTENTS;

/**
 * A note when an allowed list of a vehicle holds other matrix objects than the product rules say (objects the
 * matrix does not know, such as another run's, are ignored); undefined when it holds exactly those.
 */
export function listedDiffer(
  world: World,
  ids: Ids,
  action: string,
  vehicle: string,
  json: unknown,
): string | undefined {
  const known = new Map([...ids.objects].map(([key, id]) => [id, key]));
  for (const { field, want } of LIST_CONTENTS[action] ?? []) {
    const expected = want(world, vehicle)
      .filter((k) => ids.objects.has(k))
      .sort();
    const listed = ((json as Record<string, Array<{ id: string }> | undefined>)[field] ?? [])
      .map((x) => known.get(x.id))
      .filter((k): k is string => k !== undefined)
      .sort();
    if (JSON.stringify(expected) !== JSON.stringify(listed))
      return `${field}: listed [${listed.join(', ')}], expected [${expected.join(', ')}]`;
  }
  return undefined;
}
