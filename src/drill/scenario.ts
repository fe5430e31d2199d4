import { randomBytes, randomInt } from 'node:crypto';
import type { Scenario } from '../server/index.js';

/** Base32 (RFC 4648) without padding: a TOTP secret of 32 characters (160 bits). */
function base32Secret(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return Array.from(randomBytes(32), (b) => alphabet[b % 32]).join('');
}

/** A VIN-shaped identifier that no real vehicle has (the `DRL` manufacturer prefix, random serial). */
function drillVin(n: number): string {
  return `DRL${String(randomInt(0, 1e8)).padStart(8, '0')}${String(n).padStart(6, '0')}`;
}

/** The identities one drill run stages its attacks with: a household, its owner and cars, a partner, an app. */
export interface DrillIdentities {
  runId: string;
  scenario: Scenario;
  owner: { email: string; password: string; totp: string };
  appClientId: string;
  partnerClientId: string;
  vins: string[];
  serials: string[];
  /** The seeded vehicles' ids, in VIN order (empty until seeded). */
  vehicleIds: string[];
}

/**
 * A fresh scenario per drill run, so a drill never touches the demo's personas or another drill's (a contained
 * account, a revoked unit and a suspended partner stay contained). Seeded like any scenario (`carapace seed`).
 */
export function drillIdentities(vehicles = 3): DrillIdentities {
  const runId = randomBytes(4).toString('hex');
  const owner = {
    email: `drill-owner-${runId}@drill.example`,
    password: randomBytes(18).toString('base64url'),
    totp: base32Secret(),
  };
  const vins = Array.from({ length: vehicles }, (_, i) => drillVin(i + 1));
  const serials = vins.map((_, i) => `TCU-DRILL-${runId}-${i + 1}`);
  const appClientId = `drill-app-${runId}`;
  const partnerClientId = `drill-partner-${runId}`;
  const scenario: Scenario = {
    tenants: [
      { key: 'household', name: `Drill household ${runId}`, kind: 'consumer' },
      { key: 'partner', name: `Drill partner ${runId}`, kind: 'partner' },
    ],
    users: [
      {
        key: 'owner',
        email: owner.email,
        name: `Drill Owner ${runId}`,
        password: owner.password,
        totp: owner.totp,
        persona: 'drill: the owner whose token is stolen',
        memberships: [{ tenant: 'household', role: 'owner' }],
      },
    ],
    applications: [
      {
        clientId: appClientId,
        name: `Drill owner app ${runId}`,
        tenant: 'household',
        kind: 'public',
        redirectUris: ['http://127.0.0.1/callback'],
        scopes: ['openid', 'vehicle:read_status', 'vehicle:location', 'vehicle:lock'],
      },
      {
        clientId: partnerClientId,
        name: `Drill partner ${runId}`,
        tenant: 'partner',
        kind: 'partner',
        scopes: ['vehicle:read_status', 'vehicle:location'],
        generateKey: true,
      },
    ],
    vehicles: vins.map((vin, i) => ({ key: `car-${i + 1}`, vin, tcuSerial: serials[i] })),
    relationships: vins.flatMap((_, i) => [
      { kind: 'ownership' as const, user: 'owner', vehicle: `car-${i + 1}`, from: '-30d' },
      {
        kind: 'partner_grant' as const,
        application: partnerClientId,
        vehicle: `car-${i + 1}`,
        grantedBy: 'owner',
        scopes: ['vehicle:read_status', 'vehicle:location'],
        until: '+30d',
      },
    ]),
  };
  return { runId, scenario, owner, appClientId, partnerClientId, vins, serials, vehicleIds: [] };
}
