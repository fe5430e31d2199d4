import { describe, expect, it } from 'vitest';
import { checkTransition, INCIDENT_TRANSITIONS } from './lifecycle.js';
import type { IncidentState } from './tables.js';

const STATES: IncidentState[] = ['open', 'triaged', 'contained', 'recovered', 'closed'];
const codeOf = (f: () => unknown) => {
  try {
    f();
    return null;
  } catch (err) {
    return (err as { code: string }).code;
  }
};

describe('incident lifecycle', () => {
  it('allows exactly the documented moves and refuses every other one', () => {
    for (const from of STATES)
      for (const to of STATES) {
        const allowed = INCIDENT_TRANSITIONS[from].includes(to);
        const resolution = to === 'closed' && from !== 'recovered' ? 'false_positive' : undefined;
        expect(
          codeOf(() => checkTransition(from, to, resolution)),
          `${from} -> ${to}`,
        ).toBe(allowed ? null : 'ERR_INCIDENT_TRANSITION_REFUSED');
      }
  });

  it('closes from recovered as resolved, and before containment only as a false positive', () => {
    expect(checkTransition('recovered', 'closed')).toBe('resolved');
    expect(codeOf(() => checkTransition('recovered', 'closed', 'false_positive'))).toBe(
      'ERR_INCIDENT_TRANSITION_REFUSED',
    );
    expect(checkTransition('open', 'closed', 'false_positive')).toBe('false_positive');
    expect(codeOf(() => checkTransition('triaged', 'closed'))).toBe('ERR_INCIDENT_TRANSITION_REFUSED');
    expect(codeOf(() => checkTransition('contained', 'closed', 'false_positive'))).toBe(
      'ERR_INCIDENT_TRANSITION_REFUSED',
    );
    expect(codeOf(() => checkTransition('open', 'triaged', 'resolved'))).toBe('ERR_INCIDENT_TRANSITION_REFUSED');
    expect(checkTransition('closed', 'open')).toBeNull();
  });
});
