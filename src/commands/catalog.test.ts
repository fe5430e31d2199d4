import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createDecisionPoint, type Entity, loadPolicySet, ref } from '../policy/index.js';
import { COMMAND_NAMES as WIRE_COMMAND_NAMES } from '../wire/index.js';
import {
  COMMAND_CATALOG,
  COMMAND_NAMES,
  type CommandName,
  DELEGABLE_COMMANDS,
  MAX_COMMAND_TTL_SECONDS,
} from './index.js';

const NO_ROLES = {
  owner: [],
  driver: [],
  fleet_admin: [],
  fleet_operator: [],
  dealer_technician: [],
  support_agent: [],
  security_admin: [],
};
const OPERATOR = ref('Tenant', 'operator');
const user = (id: string, roles: Record<string, unknown> = {}): Entity => ({
  uid: { type: 'User', id },
  attrs: { email: `${id}@example.com`, roles: { ...NO_ROLES, ...roles }, fleetGroups: [] },
});
const vehicle = (attrs: Record<string, unknown> = {}): Entity => ({
  uid: { type: 'Vehicle', id: 'v1' },
  attrs: { drivers: [], serviceDealers: [], supportAgents: [], partners: [], ...attrs },
});
const tenants: Entity[] = ['operator', 'dealer'].map((id) => ({ uid: { type: 'Tenant', id }, attrs: { kind: id } }));

/** The string literals the policies compare `context.command` with (comments stripped). */
function commandsNamedInPolicies(): Set<string> {
  const names = new Set<string>();
  for (const file of readdirSync('policies').filter((f) => f.endsWith('.cedar') || f.endsWith('.cedarschema'))) {
    const text = readFileSync(join('policies', file), 'utf8').replace(/\/\/.*$/gm, '');
    for (const m of text.matchAll(/context\.command\s*==\s*"([^"]*)"|"([^"]*)"\s*==\s*context\.command/g))
      names.add(m[1] ?? m[2] ?? '');
  }
  return names;
}

describe('command lifetimes', () => {
  it('every command lives at most 60 s, with no exception', () => {
    expect(MAX_COMMAND_TTL_SECONDS).toBe(60);
    for (const c of Object.values(COMMAND_CATALOG)) expect(c.ttlSeconds, c.name).toBeLessThanOrEqual(60);
  });
});

describe('the command catalog is the one source of command names', () => {
  it('has exactly one entry per wire command name, each named by its key', () => {
    expect(COMMAND_NAMES).toBe(WIRE_COMMAND_NAMES);
    expect(Object.keys(COMMAND_CATALOG).sort()).toEqual([...COMMAND_NAMES].sort());
    for (const [key, entry] of Object.entries(COMMAND_CATALOG)) expect(entry.name).toBe(key);
  });

  it('derives the delegable commands from the catalog field', () => {
    expect(DELEGABLE_COMMANDS).toEqual(COMMAND_NAMES.filter((n) => COMMAND_CATALOG[n].delegable));
    expect(DELEGABLE_COMMANDS).not.toContain('immobilize');
    expect(DELEGABLE_COMMANDS).not.toContain('diagnostics_run');
  });

  it('every command the policies name exists in the catalog', () => {
    const named = commandsNamedInPolicies();
    // The policies do name commands (immobilize, diagnostics_run): an empty set would mean the scan broke.
    expect(named.size).toBeGreaterThan(0);
    for (const name of named) expect(COMMAND_NAMES, `policies name "${name}"`).toContain(name);
  });

  it('every delegation in the demo scenario lists only delegable commands', () => {
    const delegations: Array<{ commands?: unknown }> = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        if ((node as { kind?: unknown }).kind === 'delegation') delegations.push(node);
        Object.values(node).forEach(walk);
      }
    };
    walk(parse(readFileSync('scenarios/demo.yaml', 'utf8')));
    expect(delegations.length).toBeGreaterThan(0);
    for (const d of delegations)
      for (const c of d.commands as string[]) expect(DELEGABLE_COMMANDS, `demo delegation lists "${c}"`).toContain(c);
  });
});

describe('the policies cover every catalog command', () => {
  const pdp = createDecisionPoint(loadPolicySet());
  const ask = (command: CommandName, principal: Entity, resource: Entity, extra: Entity[] = [], context = {}) =>
    pdp.decide({
      principal: principal.uid,
      action: 'vehicle:command',
      resource: resource.uid,
      entities: [principal, resource, ...tenants, ...extra],
      context: {
        client: 'carapace-owner-app',
        scopes: [COMMAND_CATALOG[command].scope],
        mfa: true,
        command,
        operator: OPERATOR,
        ...context,
      },
    }).decision;
  const delegation = (commands: readonly string[]): Entity => ({
    uid: { type: 'Delegation', id: 'd1' },
    attrs: {
      vehicle: ref('Vehicle', 'v1'),
      driver: ref('User', 'dana'),
      grantedBy: ref('User', 'alice'),
      commands: [...commands],
    },
  });

  it.each(COMMAND_NAMES)('%s: some relationship may send it, and a stranger may not', (command) => {
    const personas: Array<() => string> = [
      () => ask(command, user('alice'), vehicle({ owner: ref('User', 'alice') })),
      () =>
        ask(command, user('sam', { security_admin: [OPERATOR] }), vehicle(), [], { reason: 'stolen vehicle report' }),
      () =>
        ask(
          command,
          user('tom', { dealer_technician: [ref('Tenant', 'dealer')] }),
          vehicle({
            serviceDealers: [ref('Tenant', 'dealer')],
          }),
        ),
    ];
    expect(
      personas.some((p) => p() === 'allow'),
      `no policy permits "${command}"`,
    ).toBe(true);
    expect(ask(command, user('eve'), vehicle({ owner: ref('User', 'alice') }))).toBe('deny');
  });

  it.each(COMMAND_NAMES)('%s: a driver may send it exactly when the catalog calls it delegable', (command) => {
    const driver = user('dana');
    const car = vehicle({ owner: ref('User', 'alice'), drivers: [ref('User', 'dana')] });
    // Even a delegation record that lists a non-delegable command (written around the API) grants nothing.
    const decision = ask(command, driver, car, [delegation([command])], { delegation: ref('Delegation', 'd1') });
    expect(decision).toBe(COMMAND_CATALOG[command].delegable ? 'allow' : 'deny');
  });
});
