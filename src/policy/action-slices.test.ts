import { describe, expect, it } from 'vitest';
import { createDecisionPoint, type Entity, loadPolicySet, ref, schemaActions } from './index.js';

const ROLES = ['owner', 'driver', 'fleet_admin', 'fleet_operator', 'dealer_technician', 'support_agent'];
const user = (id: string, roles: Record<string, unknown> = {}): Entity => ({
  uid: { type: 'User', id },
  attrs: {
    email: `${id}@example.com`,
    roles: { ...Object.fromEntries([...ROLES, 'security_admin'].map((r) => [r, []])), ...roles },
    fleetGroups: [],
  } as never,
});

/** One vehicle every persona relates to differently, and the objects the relationships name. */
const world: Entity[] = [
  user('alice', { security_admin: [ref('Tenant', 'oem')] }),
  user('dana'),
  user('sam', { support_agent: [ref('Tenant', 'oem')] }),
  user('mallory'),
  { uid: { type: 'Application', id: 'p1' }, attrs: { kind: 'partner', tenant: ref('Tenant', 't') } },
  {
    uid: { type: 'Vehicle', id: 'v1' },
    attrs: {
      owner: ref('User', 'alice'),
      drivers: [ref('User', 'dana')],
      serviceDealers: [],
      supportAgents: [ref('User', 'sam')],
      partners: [ref('Application', 'p1')],
    } as never,
  },
  {
    uid: { type: 'Delegation', id: 'd1' },
    attrs: {
      vehicle: ref('Vehicle', 'v1'),
      driver: ref('User', 'dana'),
      grantedBy: ref('User', 'alice'),
      commands: ['lock'],
    },
  },
  {
    uid: { type: 'JitApproval', id: 'j1' },
    attrs: {
      supportCase: ref('SupportCase', 'c1'),
      agent: ref('User', 'sam'),
      vehicle: ref('Vehicle', 'v1'),
      command: 'lock',
    },
  },
  {
    uid: { type: 'PartnerGrant', id: 'g1' },
    attrs: { vehicle: ref('Vehicle', 'v1'), partner: ref('Application', 'p1'), scopes: ['vehicle:read_status'] },
  },
  { uid: { type: 'Account', id: 'alice' }, attrs: { user: ref('User', 'alice'), supportAgents: [] } },
];

const contexts = [
  { client: 'carapace-owner-app', scopes: ['vehicle:read_status'], mfa: false },
  {
    client: 'carapace-owner-app',
    scopes: ['vehicle:read_status', 'vehicle:lock'],
    mfa: true,
    mfaAge: 10,
    signInAge: 10,
    stepUpMaxAge: 300,
    command: 'lock',
    delegation: ref('Delegation', 'd1'),
    jitApproval: ref('JitApproval', 'j1'),
    partnerGrant: ref('PartnerGrant', 'g1'),
  },
];

describe('per-action policy slices', () => {
  const set = loadPolicySet();
  const sliced = createDecisionPoint(set);
  const whole = createDecisionPoint({ ...set, slices: new Map() });

  it('decide exactly as the whole set does: same decision, reasons and errors for every action', () => {
    const principals = [
      { type: 'User', id: 'alice' },
      { type: 'User', id: 'dana' },
      { type: 'User', id: 'sam' },
      { type: 'User', id: 'mallory' },
      { type: 'Application', id: 'p1' },
    ];
    const resources = [
      { type: 'Vehicle', id: 'v1' },
      { type: 'Account', id: 'alice' },
    ];
    let allowed = 0;
    let compared = 0;
    for (const action of schemaActions(set))
      for (const principal of principals)
        for (const resource of resources)
          for (const context of contexts) {
            const q = { principal, action, resource, context: context as never, entities: world };
            const a = sliced.decide(q);
            expect(a, `${principal.id} ${action} ${resource.type}`).toEqual(whole.decide(q));
            compared++;
            if (a.decision === 'allow') allowed++;
          }
    // The grid must reach real allows, or the equality above says nothing about the policies that permit.
    expect(allowed).toBeGreaterThan(20);
    expect(compared).toBe([...schemaActions(set)].length * principals.length * resources.length * contexts.length);
  });

  it('give every schema action a slice, and actions with different policies different slices', () => {
    for (const action of schemaActions(set)) expect(set.slices.get(action), action).toBeDefined();
    expect(new Set(set.slices.values()).size).toBeGreaterThan(1);
  });

  it('an action outside the schema falls back to the whole set and is still denied', () => {
    const d = sliced.decide({
      principal: { type: 'User', id: 'alice' },
      action: 'vehicle:teleport',
      resource: { type: 'Vehicle', id: 'v1' },
      context: contexts[1] as never,
      entities: world,
    });
    expect(d.decision).toBe('deny');
    expect(d.errors.length).toBeGreaterThan(0);
  });
});
