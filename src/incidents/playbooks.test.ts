import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPlaybook, DEFAULT_PLAYBOOK_DIR, loadPlaybooks } from './playbooks.js';

const shipped = JSON.parse(readFileSync(join(DEFAULT_PLAYBOOK_DIR, 'account-takeover.json'), 'utf8')) as Record<
  string,
  unknown
> & { steps: Record<string, unknown>[] };
const dir = mkdtempSync(join(tmpdir(), 'carapace-playbooks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refusal = (value: unknown, file = 'account-takeover.json') => {
  try {
    checkPlaybook(file, value);
  } catch (err) {
    return err as { code: string; message: string };
  }
  return null;
};

describe('playbooks as data', () => {
  it('loads the six shipped playbooks, each with real actions', () => {
    const all = loadPlaybooks();
    expect([...all.keys()]).toHaveLength(6);
    for (const p of all.values()) expect(p.steps.length).toBeGreaterThan(0);
  });

  it('refuses unknown fields and actions, missing or foreign parameters, duplicate ids and a misnamed file', () => {
    expect(refusal(shipped)).toBeNull();
    expect(refusal({ ...shipped, owner: 'x' })).toMatchObject({ code: 'ERR_PLAYBOOK_INVALID' });
    const step = (over: Record<string, unknown>) => ({ ...shipped, steps: [{ ...shipped.steps[0], ...over }] });
    expect(refusal(step({ action: 'device.explode' }))?.message).toMatch(/steps/);
    expect(refusal(step({ mode: 'sometimes' }))).toMatchObject({ code: 'ERR_PLAYBOOK_INVALID' });
    expect(refusal(step({ action: 'telemetry.reverify' }))?.message).toContain('needs params.lookbackHours');
    expect(refusal(step({ action: 'telemetry.reverify', params: { lookbackHours: 12 } }))).not.toBeNull();
    expect(refusal(step({ action: 'telemetry.reverify', params: { lookbackHours: 96 } }))).not.toBeNull();
    expect(refusal(step({ params: { template: 'x' } }))?.message).toContain('takes no params.template');
    expect(refusal({ ...shipped, steps: [shipped.steps[0], shipped.steps[0]] })?.message).toContain('used twice');
    expect(refusal(shipped, 'other-name.json')?.message).toContain('must be named account-takeover.json');
    expect(refusal({ ...shipped, version: 0 })).not.toBeNull();
  });

  it('a bad file in the directory refuses to load the whole set', () => {
    writeFileSync(join(dir, 'account-takeover.json'), JSON.stringify(shipped));
    expect([...loadPlaybooks(dir).keys()]).toEqual(['account-takeover']);
    writeFileSync(join(dir, 'broken.json'), '{ not json');
    expect(() => loadPlaybooks(dir)).toThrow(/broken.json: is not JSON/);
  });
});
