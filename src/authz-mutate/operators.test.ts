import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateMutants, type Mutant, mutatedFiles } from './operators.js';
import { readPolicySource } from './policy-source.js';

const SCHEMA = `namespace Carapace {
  entity User = { roles: Set<String> };
  entity Vehicle = { owner: User, status: String };
  action "vehicle:read", "vehicle:read_status", "vehicle:transfer" appliesTo { principal: [User], resource: [Vehicle] };
}
`;
const POLICIES = `// fixture
@id("owner.read")
permit (principal is Carapace::User, action == Carapace::Action::"vehicle:read", resource is Carapace::Vehicle)
when { resource.owner == principal };

@id("guard.stolen")
forbid (
  principal,
  action in [Carapace::Action::"vehicle:transfer"],
  resource is Carapace::Vehicle
)
when { resource.status == "stolen" }
unless { principal.roles.contains("security_admin") && resource.status != "recovered" };
`;

describe('mutation operators on a small policy fixture', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carapace-mutate-fixture-'));
  writeFileSync(join(dir, 'schema.cedarschema'), SCHEMA);
  writeFileSync(join(dir, 'fixture.cedar'), POLICIES);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const source = readPolicySource(dir);
  const mutants = generateMutants(source, { required: ['guard.stolen'] });
  const byId = new Map(mutants.map((m) => [m.id, m]));

  it('reads each policy with its exact text and starting line', () => {
    expect(source.policies.map((p) => [p.id, p.line])).toEqual([
      ['owner.read', 2],
      ['guard.stolen', 6],
    ]);
  });

  it('generates exactly the mutants each operator claims, at the mutated line', () => {
    expect(mutants.map((m) => `${m.id}@${m.line}`).sort()).toEqual(
      [
        'drop-when:owner.read#0@4',
        'swap-eq:owner.read#0@4',
        'widen-action:owner.read#0@3',
        'drop-when:guard.stolen#0@12',
        'drop-unless:guard.stolen#0@13',
        'swap-eq:guard.stolen#0@12',
        'swap-eq:guard.stolen#1@13',
        'widen-action:guard.stolen#0@9',
        'drop-forbid:guard.stolen#0@6',
        'drop-guardrail:guard.stolen#0@6',
      ].sort(),
    );
  });

  it('changes only what the operator names', () => {
    expect(byId.get('drop-when:owner.read#0')?.text).not.toContain('when');
    expect(byId.get('swap-eq:owner.read#0')?.text).toContain('resource.owner != principal');
    const widened = byId.get('widen-action:owner.read#0');
    expect(widened?.text).toMatch(
      /action in \[Carapace::Action::"vehicle:read", Carapace::Action::"vehicle:read_status"\]/,
    );
    expect(widened?.actions).toEqual(['vehicle:read', 'vehicle:read_status']);
    expect(byId.get('drop-when:owner.read#0')?.actions).toEqual(['vehicle:read']);
    // Nothing follows vehicle:transfer in the schema: widening wraps around to the first action that applies.
    expect(byId.get('widen-action:guard.stolen#0')?.text).toContain('Carapace::Action::"vehicle:read"]');
    const guard = (id: string) => byId.get(id)?.text ?? '';
    expect(guard('drop-unless:guard.stolen#0')).toContain('resource.status == "stolen"');
    expect(guard('drop-unless:guard.stolen#0')).not.toContain('unless');
    expect(guard('drop-when:guard.stolen#0')).not.toMatch(/\bwhen\b/);
    expect(guard('swap-eq:guard.stolen#0')).toContain('resource.status != "stolen"');
    expect(guard('swap-eq:guard.stolen#0')).toContain('resource.status != "recovered"');
    expect(guard('swap-eq:guard.stolen#1')).toContain('resource.status == "stolen"');
    expect(guard('swap-eq:guard.stolen#1')).toContain('resource.status == "recovered"');
    expect(guard('drop-guardrail:guard.stolen#0')).toMatch(/^@id\("guard\.stolen"\)\s*forbid/);
    expect(guard('drop-guardrail:guard.stolen#0')).toContain('when { false }');
    expect(byId.get('drop-forbid:guard.stolen#0')?.text).toBeNull();
  });

  it('writes a mutant into the files without touching the other policies', () => {
    const deleted = mutatedFiles(source, byId.get('drop-forbid:guard.stolen#0') as Mutant);
    expect(deleted.get('fixture.cedar')).not.toContain('guard.stolen');
    expect(deleted.get('fixture.cedar')).toContain(source.policies[0]?.text);
    const swapped = mutatedFiles(source, byId.get('swap-eq:owner.read#0') as Mutant).get('fixture.cedar') as string;
    expect(swapped).toContain(source.policies[1]?.text);
    expect(swapped.startsWith('// fixture\n')).toBe(true);
  });

  it('drop-guardrail applies to the required forbids only', () => {
    expect(generateMutants(source, { required: [] }).some((m) => m.operator === 'drop-guardrail')).toBe(false);
    expect(generateMutants(source, { only: ['swap-eq'] }).map((m) => m.operator)).toEqual([
      'swap-eq',
      'swap-eq',
      'swap-eq',
    ]);
  });
});

describe('mutants of the shipped policies', () => {
  const mutants = generateMutants(readPolicySource('policies'));
  it('have unique ids and differ from the policy they mutate', () => {
    expect(new Set(mutants.map((m) => m.id)).size).toBe(mutants.length);
    const source = readPolicySource('policies');
    for (const m of mutants) expect(m.text).not.toBe(source.policies.find((p) => p.id === m.policyId)?.text);
    for (const op of ['drop-when', 'drop-unless', 'widen-action', 'drop-forbid', 'swap-eq', 'drop-guardrail'])
      expect(mutants.filter((m) => m.operator === op).length).toBeGreaterThan(0);
  });
});
