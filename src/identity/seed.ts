import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { CarapaceError } from '../platform/errors.js';
import type { Directory } from './directory.js';
import { ROLES, TENANT_KINDS } from './tables.js';

const closed = { additionalProperties: false } as const;
const Key = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });

/** The scenario file format (`carapace seed <file.yaml>`). Closed: an unknown key is an error. */
export const ScenarioSchema = Type.Object({
  tenants: Type.Array(Type.Object({ key: Key, name: Type.String({ minLength: 1 }), kind: Type.Union(TENANT_KINDS.map((k) => Type.Literal(k))) }, closed)),
  users: Type.Array(Type.Object({
    key: Key,
    email: Type.String({ minLength: 3 }),
    name: Type.String({ minLength: 1 }),
    password: Type.String({ minLength: 12 }),
    totp: Type.Optional(Type.String({ pattern: '^[A-Z2-7]{16,}$' })),
    persona: Type.Optional(Type.String()),
    memberships: Type.Array(Type.Object({ tenant: Key, role: Type.Union(ROLES.map((r) => Type.Literal(r))) }, closed)),
  }, closed)),
  applications: Type.Optional(Type.Array(Type.Object({
    clientId: Type.String({ minLength: 1 }),
    name: Type.String(),
    tenant: Key,
    kind: Type.Union([Type.Literal('public'), Type.Literal('confidential'), Type.Literal('partner')]),
    redirectUris: Type.Optional(Type.Array(Type.String())),
    scopes: Type.Array(Type.String()),
    jwks: Type.Optional(Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) })),
    /** Demo only: generate the partner's key pair at seed time and keep the private JWK in the data directory. */
    generateKey: Type.Optional(Type.Boolean()),
  }, closed))),
  vehicles: Type.Optional(Type.Array(Type.Object({ key: Key, vin: Type.String(), tcuSerial: Type.Optional(Type.String()) }, closed))),
}, closed);

/** A parsed scenario. */
export type Scenario = Static<typeof ScenarioSchema>;

/** A persona to print after seeding: who to log in as. */
export interface Persona {
  key: string;
  email: string;
  password: string;
  totp: string | null;
  persona: string;
  roles: string[];
}

/** Reads and validates a scenario file; the error names the first bad path. */
export function readScenario(path: string): Scenario {
  const raw: unknown = parseYaml(readFileSync(path, 'utf8'));
  if (!Value.Check(ScenarioSchema, raw)) {
    const first = [...Value.Errors(ScenarioSchema, raw)][0];
    throw new CarapaceError('ERR_VALIDATION', `scenario ${path}: ${first?.path || '/'} ${first?.message ?? 'is invalid'}`, { field: first?.path ?? '/' });
  }
  return raw;
}

/** What seeding needs besides the directory: vehicle and device registration, and demo key storage. */
export interface SeedTargets {
  directory: Directory;
  registerVehicle(vin: string, tcuSerial: string | null): Promise<void>;
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
export async function seedScenario(targets: SeedTargets, scenario: Scenario): Promise<{ personas: Persona[]; partners: SeededPartner[] }> {
  const actor = { type: 'system' as const, id: 'seed' as const };
  const tenantIds = new Map<string, string>();
  for (const t of scenario.tenants) {
    tenantIds.set(t.key, (await targets.directory.createTenant(actor, { name: t.name, kind: t.kind })).id);
  }
  const tenant = (key: string) => {
    const id = tenantIds.get(key);
    if (!id) throw new CarapaceError('ERR_VALIDATION', `scenario refers to unknown tenant "${key}"`, { field: 'tenant' });
    return id;
  };
  const personas: Persona[] = [];
  for (const u of scenario.users) {
    const user = await targets.directory.createUser(actor, { email: u.email, displayName: u.name, password: u.password, totpSecret: u.totp ?? null });
    for (const m of u.memberships) await targets.directory.grantMembership(actor, { userId: user.id, tenantId: tenant(m.tenant), role: m.role });
    personas.push({ key: u.key, email: user.email, password: u.password, totp: u.totp ?? null, persona: u.persona ?? u.name, roles: u.memberships.map((m) => `${m.role}@${m.tenant}`) });
  }
  const partners: SeededPartner[] = [];
  for (const a of scenario.applications ?? []) {
    let jwks = a.jwks ?? null;
    if (a.generateKey) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = randomUUID();
      jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] };
      partners.push({ clientId: a.clientId, scopes: a.scopes, privateJwkFile: targets.storePrivateJwk(a.clientId, { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES256' }) });
    }
    await targets.directory.registerApplication(actor, { clientId: a.clientId, tenantId: tenant(a.tenant), name: a.name, kind: a.kind, redirectUris: a.redirectUris ?? [], scopes: a.scopes, jwks });
  }
  for (const v of scenario.vehicles ?? []) await targets.registerVehicle(v.vin, v.tcuSerial ?? null);
  return { personas, partners };
}
