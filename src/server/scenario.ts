import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { parseDuration } from '../config/index.js';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import type { RelationshipStore } from '../relationships/index.js';
import type { Directory } from '../identity/index.js';
import type { Persona, Scenario } from '../scenario/index.js';

export { readScenario, ScenarioSchema, type Persona, type Scenario } from '../scenario/index.js';

/** "-10d" or "+5h" from `now`. */
function relative(now: Date, spec: string): Date {
  const seconds = parseDuration(spec.slice(1)) ?? 0;
  return new Date(now.getTime() + (spec.startsWith('-') ? -1 : 1) * seconds * 1000);
}

/** What seeding needs besides the directory: vehicle and device registration, relationships, and demo key storage. */
export interface SeedTargets {
  directory: Directory;
  relationships: RelationshipStore;
  clock: Clock;
  /** Registers the vehicle (and its unit, if a TCU serial is given) and returns the vehicle id. */
  registerVehicle(vin: string, tcuSerial: string | null): Promise<string>;
  /** Keeps a generated private JWK (0600) and returns where. */
  storePrivateJwk(clientId: string, jwk: object): string;
}

/** A partner application whose demo key was generated at seed time. */
export interface SeededPartner {
  clientId: string;
  scopes: string[];
  privateJwkFile: string;
}

/** Loads a scenario into an empty deployment and returns the personas. Production mode never calls this. */
export async function seedScenario(
  targets: SeedTargets,
  scenario: Scenario,
): Promise<{ personas: Persona[]; partners: SeededPartner[] }> {
  const actor = { type: 'system' as const, id: 'seed' as const };
  const tenantIds = new Map<string, string>();
  for (const t of scenario.tenants) {
    tenantIds.set(t.key, (await targets.directory.createTenant(actor, { name: t.name, kind: t.kind })).id);
  }
  const tenant = (key: string) => {
    const id = tenantIds.get(key);
    if (!id)
      throw new CarapaceError('ERR_VALIDATION', `scenario refers to unknown tenant "${key}"`, { field: 'tenant' });
    return id;
  };
  const personas: Persona[] = [];
  for (const u of scenario.users) {
    const user = await targets.directory.createUser(actor, {
      email: u.email,
      displayName: u.name,
      password: u.password,
      totpSecret: u.totp ?? null,
    });
    for (const m of u.memberships)
      await targets.directory.grantMembership(actor, { userId: user.id, tenantId: tenant(m.tenant), role: m.role });
    personas.push({
      key: u.key,
      email: user.email,
      password: u.password,
      totp: u.totp ?? null,
      persona: u.persona ?? u.name,
      roles: u.memberships.map((m) => `${m.role}@${m.tenant}`),
    });
  }
  const partners: SeededPartner[] = [];
  for (const a of scenario.applications ?? []) {
    let jwks = a.jwks ?? null;
    if (a.generateKey) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = randomUUID();
      jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] };
      partners.push({
        clientId: a.clientId,
        scopes: a.scopes,
        privateJwkFile: targets.storePrivateJwk(a.clientId, {
          ...privateKey.export({ format: 'jwk' }),
          kid,
          alg: 'ES256',
        }),
      });
    }
    await targets.directory.registerApplication(actor, {
      clientId: a.clientId,
      tenantId: tenant(a.tenant),
      name: a.name,
      kind: a.kind,
      redirectUris: a.redirectUris ?? [],
      scopes: a.scopes,
      jwks,
    });
  }
  const vehicleIds = new Map<string, string>();
  for (const v of scenario.vehicles ?? [])
    vehicleIds.set(v.key, await targets.registerVehicle(v.vin, v.tcuSerial ?? null));
  const userIds = new Map(
    await Promise.all(
      scenario.users.map(async (u) => [u.key, (await targets.directory.findUserByEmail(u.email))?.id ?? ''] as const),
    ),
  );
  const groupIds = new Map<string, string>();
  for (const g of scenario.groups ?? [])
    groupIds.set(g.key, await targets.relationships.createGroup(tenant(g.tenant), g.name));
  const ref = (map: Map<string, string>, what: string, key: string | undefined) => {
    if (key === undefined) return null;
    const id = map.get(key);
    if (!id) throw new CarapaceError('ERR_VALIDATION', `scenario refers to unknown ${what} "${key}"`, { field: what });
    return id;
  };
  const now = targets.clock.now();
  for (const r of scenario.relationships ?? []) {
    const grantedBy = r.grantedBy
      ? { type: 'user' as const, id: ref(userIds, 'user', r.grantedBy) as string }
      : { type: 'system' as const, id: 'seed' };
    const row = await targets.relationships.grant(grantedBy, {
      kind: r.kind,
      userId: ref(userIds, 'user', r.user),
      tenantId: r.tenant ? tenant(r.tenant) : null,
      applicationId: r.application ?? null,
      vehicleId: ref(vehicleIds, 'vehicle', r.vehicle),
      groupId: ref(groupIds, 'group', r.group),
      accountId: ref(userIds, 'user', r.account),
      attributes: {
        ...(r.commands ? { commands: r.commands } : {}),
        ...(r.scopes ? { scopes: r.scopes } : {}),
        ...(r.ownerConsent !== undefined ? { ownerConsent: r.ownerConsent } : {}),
      },
      validFrom: r.from ? relative(now, r.from) : now,
      validUntil: r.until ? relative(now, r.until) : null,
    });
    if (r.ended)
      await targets.relationships.end(
        { type: 'system', id: 'seed' },
        row.id,
        r.endReason ?? 'ended',
        relative(now, r.ended),
      );
    if (row.kind === 'service_case' || row.kind === 'support_case')
      await targets.relationships.recordCase({ type: 'system', id: 'seed' }, row, {
        reason: r.endReason ?? null,
        endedAt: r.ended ? relative(now, r.ended).toISOString() : null,
      });
  }
  return { personas, partners };
}
