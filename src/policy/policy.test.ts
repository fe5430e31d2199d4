import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDecisionPoint, type Entity, loadPolicySet, PolicySetError, ref, schemaActions } from './index.js';

const ROLES = {
  owner: [],
  driver: [],
  fleet_admin: [],
  fleet_operator: [],
  dealer_technician: [],
  support_agent: [],
  security_admin: [],
};
const user = (id: string, roles: Record<string, unknown> = {}) => ({
  uid: { type: 'User', id },
  attrs: { email: `${id}@example.com`, roles: { ...ROLES, ...roles }, fleetGroups: [] },
});
const vehicle = (id: string, attrs: Record<string, unknown> = {}) => ({
  uid: { type: 'Vehicle', id },
  attrs: { drivers: [], serviceDealers: [], supportAgents: [], partners: [], ...attrs } as never,
});
const ctx = { client: 'carapace-owner-app', scopes: ['vehicle:read_status'], mfa: false };

describe('policy set', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const copy = () => {
    const dir = mkdtempSync(join(tmpdir(), 'carapace-policy-'));
    dirs.push(dir);
    cpSync('policies', dir, { recursive: true });
    return dir;
  };

  it('validates the shipped policies against the schema and versions them by content', () => {
    const set = loadPolicySet();
    expect(set.version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Object.keys(set.policies)).toContain('owner.full-control');
    expect(schemaActions(set)).toContain('vehicle:command');
    const dir = copy();
    writeFileSync(
      join(dir, 'owners.cedar'),
      `${readFileSync(join(dir, 'owners.cedar'), 'utf8')}\n// a comment changes the version\n`,
    );
    expect(loadPolicySet(dir).version).not.toBe(set.version);
  });

  it('refuses a policy that does not validate against the schema (an attribute that does not exist)', () => {
    const dir = copy();
    writeFileSync(
      join(dir, 'extra.cedar'),
      '@id("bad.attr")\npermit (principal is Carapace::User, action == Carapace::Action::"vehicle:read", resource is Carapace::Vehicle) when { resource.colour == "red" };\n',
    );
    expect(() => loadPolicySet(dir)).toThrow(PolicySetError);
  });

  it('refuses syntax errors, missing ids, duplicate ids and a missing schema', () => {
    let dir = copy();
    writeFileSync(join(dir, 'broken.cedar'), '@id("x") permit (principal, action, resource) when {');
    expect(() => loadPolicySet(dir)).toThrow(/does not parse/);
    dir = copy();
    writeFileSync(join(dir, 'noid.cedar'), 'forbid (principal, action, resource);');
    expect(() => loadPolicySet(dir)).toThrow(/without @id/);
    dir = copy();
    writeFileSync(join(dir, 'dup.cedar'), '@id("owner.full-control")\nforbid (principal, action, resource);');
    expect(() => loadPolicySet(dir)).toThrow(/repeats a policy id/);
    dir = copy();
    rmSync(join(dir, 'schema.cedarschema'));
    expect(() => loadPolicySet(dir)).toThrow(/schema\.cedarschema is missing/);
  });
});

describe('decision point', () => {
  const set = loadPolicySet();
  const pdp = createDecisionPoint(set);

  it('allows the owner and names the policy and version', () => {
    const d = pdp.decide({
      principal: { type: 'User', id: 'alice' },
      action: 'vehicle:read',
      resource: { type: 'Vehicle', id: 'v1' },
      context: ctx,
      entities: [user('alice'), vehicle('v1', { owner: ref('User', 'alice') })],
    });
    expect(d).toEqual({ decision: 'allow', reasons: ['owner.full-control'], errors: [], policyVersion: set.version });
  });

  it('denies by default: another user, an unknown action, a vehicle without relationships', () => {
    const base = { principal: { type: 'User', id: 'bob' }, resource: { type: 'Vehicle', id: 'v1' }, context: ctx };
    expect(
      pdp.decide({
        ...base,
        action: 'vehicle:read',
        entities: [user('bob'), vehicle('v1', { owner: ref('User', 'alice') })],
      }).decision,
    ).toBe('deny');
    expect(
      pdp.decide({
        ...base,
        action: 'vehicle:fly',
        entities: [user('bob'), vehicle('v1', { owner: ref('User', 'bob') })],
      }).decision,
    ).toBe('deny');
    expect(pdp.decide({ ...base, action: 'vehicle:read', entities: [user('bob'), vehicle('v1')] }).decision).toBe(
      'deny',
    );
  });

  it('fails closed when the request does not match the schema or an entity is malformed', () => {
    const q = {
      principal: { type: 'User', id: 'alice' },
      action: 'vehicle:read',
      resource: { type: 'Vehicle', id: 'v1' },
    };
    // The owner would be allowed, but the context lacks a required attribute: deny, with the error kept.
    const missingContext = pdp.decide({
      ...q,
      context: { client: 'x' },
      entities: [user('alice'), vehicle('v1', { owner: ref('User', 'alice') })],
    });
    expect(missingContext.decision).toBe('deny');
    expect(missingContext.errors.length).toBeGreaterThan(0);
    const badEntity = pdp.decide({
      ...q,
      context: ctx,
      entities: [
        { uid: { type: 'User', id: 'alice' }, attrs: { email: 5 } },
        vehicle('v1', { owner: ref('User', 'alice') }),
      ],
    });
    expect(badEntity.decision).toBe('deny');
    const wrongType = pdp.decide({
      ...q,
      resource: { type: 'Tenant', id: 'v1' },
      context: ctx,
      entities: [user('alice')],
    });
    expect(wrongType.decision).toBe('deny');
  });

  it('lets a driver command only the delegated commands on the delegated vehicle, and never re-share', () => {
    const entities: Entity[] = [
      user('dana'),
      vehicle('v1', { owner: ref('User', 'alice'), drivers: [ref('User', 'dana')] }),
      {
        uid: { type: 'Delegation', id: 'd1' },
        attrs: {
          vehicle: ref('Vehicle', 'v1'),
          driver: ref('User', 'dana'),
          grantedBy: ref('User', 'alice'),
          commands: ['lock'],
        },
      },
    ];
    const ask = (command: string, delegation = 'd1', action = 'vehicle:command') =>
      pdp.decide({
        principal: { type: 'User', id: 'dana' },
        action,
        resource: { type: 'Vehicle', id: 'v1' },
        context: { ...ctx, command, delegation: ref('Delegation', delegation) },
        entities,
      }).decision;
    expect(ask('lock')).toBe('allow');
    expect(ask('unlock')).toBe('deny');
    expect(ask('lock', 'd1', 'delegation:create')).toBe('deny');
    expect(ask('lock', 'd1', 'vehicle:transfer')).toBe('deny');
  });

  it('gives a support agent commands only with a matching just-in-time approval', () => {
    const entities: Entity[] = [
      user('sam', { support_agent: [ref('Tenant', 'oem')] }),
      vehicle('v1', { owner: ref('User', 'alice'), supportAgents: [ref('User', 'sam')] }),
      {
        uid: { type: 'JitApproval', id: 'j1' },
        attrs: {
          supportCase: ref('SupportCase', 'c1'),
          agent: ref('User', 'sam'),
          vehicle: ref('Vehicle', 'v1'),
          command: 'lock',
        },
      },
    ];
    const ask = (command: string, withApproval: boolean) =>
      pdp.decide({
        principal: { type: 'User', id: 'sam' },
        action: 'vehicle:command',
        resource: { type: 'Vehicle', id: 'v1' },
        context: { ...ctx, command, ...(withApproval ? { jitApproval: ref('JitApproval', 'j1') } : {}) },
        entities,
      }).decision;
    expect(ask('lock', false)).toBe('deny');
    expect(ask('lock', true)).toBe('allow');
    expect(ask('unlock', true)).toBe('deny');
  });

  it('never lets a partner command or manage a vehicle, even with a consent on it', () => {
    const entities: Entity[] = [
      { uid: { type: 'Application', id: 'p1' }, attrs: { kind: 'partner', tenant: ref('Tenant', 't') } },
      vehicle('v1', { owner: ref('User', 'alice'), partners: [ref('Application', 'p1')] }),
      {
        uid: { type: 'PartnerGrant', id: 'g1' },
        attrs: { vehicle: ref('Vehicle', 'v1'), partner: ref('Application', 'p1'), scopes: ['vehicle:read_status'] },
      },
    ];
    const ask = (action: string) =>
      pdp.decide({
        principal: { type: 'Application', id: 'p1' },
        action,
        resource: { type: 'Vehicle', id: 'v1' },
        context: { ...ctx, command: 'unlock', partnerGrant: ref('PartnerGrant', 'g1') },
        entities,
      });
    expect(ask('vehicle:read_status').decision).toBe('allow');
    expect(ask('vehicle:read_location').decision).toBe('deny');
    expect(ask('vehicle:command')).toMatchObject({ decision: 'deny' });
    expect(ask('delegation:create').decision).toBe('deny');
  });

  it('judges the age of the second factor for every critical action, and of the sign-in for credential changes', () => {
    const entities: Entity[] = [
      user('alice', { security_admin: [ref('Tenant', 'oem')] }),
      vehicle('v1', { owner: ref('User', 'alice') }),
    ];
    const ask = (action: string, resource: { type: string; id: string }, extra: Record<string, unknown>) =>
      pdp.decide({
        principal: { type: 'User', id: 'alice' },
        action,
        resource,
        context: { ...ctx, ...extra },
        entities: [
          ...entities,
          { uid: { type: 'Account', id: 'alice' }, attrs: { user: ref('User', 'alice'), supportAgents: [] } },
        ],
      }).decision;
    const v1 = { type: 'Vehicle', id: 'v1' };
    const window = { stepUpMaxAge: 300 };
    expect(ask('vehicle:transfer', v1, { mfa: true, mfaAge: 10, signInAge: 10, ...window })).toBe('allow');
    // Any age of the factor used to pass; a factor older than the window, or of unknown age, does not.
    expect(ask('vehicle:transfer', v1, { mfa: true, mfaAge: 301, signInAge: 301, ...window })).toBe('deny');
    expect(ask('vehicle:transfer', v1, { mfa: true })).toBe('deny');
    expect(ask('vehicle:transfer', v1, { mfa: false, signInAge: 1, ...window })).toBe('deny');
    const self = { type: 'Account', id: 'alice' };
    for (const action of ['identity:change_password', 'identity:enroll_mfa']) {
      expect(ask(action, self, { signInAge: 30, ...window }), action).toBe('allow');
      expect(ask(action, self, { signInAge: 301, ...window }), action).toBe('deny');
      expect(ask(action, self, {}), action).toBe('deny');
    }
    expect(ask('identity:read_self', self, {})).toBe('allow');
  });
});
