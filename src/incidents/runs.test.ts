import { describe, expect, it } from 'vitest';
import type { IncidentFacts } from './actions.js';
import { checkPlaybook, loadPlaybooks } from './playbooks.js';
import { resolvePlaybook, type RunDeps } from './runs.js';

const facts = (users: string[]): IncidentFacts => ({
  id: 'i1',
  tenantId: null,
  assets: { vehicles: [], devices: [], users, clients: [], tenants: [], serials: [], thumbprints: [], networks: [] },
  scope: null,
  firstSeen: null,
  openedAt: '2026-01-01T00:00:00.000Z',
  evidence: [],
});
// The account actions resolve from the incident's assets alone: no port is called.
const deps = { approvalVehicleThreshold: 10 } as unknown as RunDeps;

describe('the approval a step needs', () => {
  it('resetting a second factor always waits for a second operator, even in a playbook that says auto', async () => {
    // Failed sign-ins name the accounts tried, so an outsider who knows a password can stage a credential-stuffing
    // finding naming the victim; an automatic reset would strip the victim's second factor for them.
    const playbook = checkPlaybook('mfa-now.json', {
      id: 'mfa-now',
      version: 1,
      title: 'reset at once',
      description: 'a custom playbook that resets the second factor automatically',
      steps: [
        { id: 'end', action: 'account.end_sessions', mode: 'auto' },
        { id: 'reset', action: 'account.reset_mfa', mode: 'auto' },
      ],
    });
    const steps = await resolvePlaybook(deps, playbook, facts(['victim']));
    expect(steps.map((s) => [s.stepId, s.approval])).toEqual([
      ['end', 0],
      ['reset', 2],
    ]);
  });

  it('the shipped account-takeover playbook contains and scopes before the reset waits for approval', async () => {
    const shipped = loadPlaybooks().get('account-takeover')!;
    const steps = await resolvePlaybook(deps, shipped, facts(['victim']));
    expect(steps.map((s) => s.action)).toEqual([
      'account.end_sessions',
      'notify.user',
      'incident.scope',
      'account.reset_mfa',
    ]);
    expect(steps.map((s) => s.approval)).toEqual([0, 0, 0, 2]);
  });
});
