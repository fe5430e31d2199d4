/**
 * The scenario file format (`carapace seed <file.yaml>`, the demo, the authorization matrix) and its reader. A
 * module of its own so that scripts and tools can read a scenario without loading the server.
 */
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { CarapaceError } from '../platform/index.js';
import { RELATIONSHIP_KINDS } from '../relationships/index.js';
import { ROLES, TENANT_KINDS } from '../identity/index.js';

const closed = { additionalProperties: false } as const;
const Key = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
const RelativeTime = Type.String({ pattern: '^[+-]\\d+[smhd]$' });

/** The scenario file format (`carapace seed <file.yaml>`). Closed: an unknown key is an error. */
export const ScenarioSchema = Type.Object(
  {
    tenants: Type.Array(
      Type.Object(
        { key: Key, name: Type.String({ minLength: 1 }), kind: Type.Union(TENANT_KINDS.map((k) => Type.Literal(k))) },
        closed,
      ),
    ),
    users: Type.Array(
      Type.Object(
        {
          key: Key,
          email: Type.String({ minLength: 3 }),
          name: Type.String({ minLength: 1 }),
          password: Type.String({ minLength: 12 }),
          totp: Type.Optional(Type.String({ pattern: '^[A-Z2-7]{16,}$' })),
          persona: Type.Optional(Type.String()),
          memberships: Type.Array(
            Type.Object({ tenant: Key, role: Type.Union(ROLES.map((r) => Type.Literal(r))) }, closed),
          ),
        },
        closed,
      ),
    ),
    applications: Type.Optional(
      Type.Array(
        Type.Object(
          {
            clientId: Type.String({ minLength: 1 }),
            name: Type.String(),
            tenant: Key,
            kind: Type.Union([Type.Literal('public'), Type.Literal('confidential'), Type.Literal('partner')]),
            redirectUris: Type.Optional(Type.Array(Type.String())),
            scopes: Type.Array(Type.String()),
            jwks: Type.Optional(Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) })),
            /**
             * Demo only: generate the partner's key pair at seed time and keep the private JWK in the data directory.
             */
            generateKey: Type.Optional(Type.Boolean()),
          },
          closed,
        ),
      ),
    ),
    vehicles: Type.Optional(
      Type.Array(Type.Object({ key: Key, vin: Type.String(), tcuSerial: Type.Optional(Type.String()) }, closed)),
    ),
    groups: Type.Optional(Type.Array(Type.Object({ key: Key, tenant: Key, name: Type.String() }, closed))),
    /** Times are relative to the moment of seeding: "-10d" is ten days before, "+5d" five days after. */
    relationships: Type.Optional(
      Type.Array(
        Type.Object(
          {
            kind: Type.Union(RELATIONSHIP_KINDS.map((k) => Type.Literal(k))),
            user: Type.Optional(Key),
            tenant: Type.Optional(Key),
            application: Type.Optional(Type.String()),
            vehicle: Type.Optional(Key),
            group: Type.Optional(Key),
            account: Type.Optional(Key),
            grantedBy: Type.Optional(Key),
            commands: Type.Optional(Type.Array(Type.String())),
            scopes: Type.Optional(Type.Array(Type.String())),
            ownerConsent: Type.Optional(Type.Boolean()),
            from: Type.Optional(RelativeTime),
            until: Type.Optional(RelativeTime),
            ended: Type.Optional(RelativeTime),
            endReason: Type.Optional(Type.String()),
          },
          closed,
        ),
      ),
    ),
  },
  closed,
);

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
    throw new CarapaceError(
      'ERR_VALIDATION',
      `scenario ${path}: ${first?.path || '/'} ${first?.message ?? 'is invalid'}`,
      { field: first?.path ?? '/' },
    );
  }
  return raw;
}
