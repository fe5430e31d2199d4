import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureProblems, loadFixtures } from './fixtures.js';
import { DEFAULT_DETECTIONS_DIR, loadRules } from './rule.js';

/** Every rule shipped under detections/, with its fixtures run through the real evaluator (memory adapter). */
const rules = loadRules(DEFAULT_DETECTIONS_DIR);

describe('detection rule fixtures', () => {
  it('ships at least one rule, and every file under detections/ is a rule or its fixtures', () => {
    expect(rules.length).toBeGreaterThan(0);
    const ids = new Set(rules.map((r) => r.id));
    for (const f of readdirSync(DEFAULT_DETECTIONS_DIR))
      expect(ids.has(f.replace(/(\.fixtures)?\.json$/, '')), `${f} belongs to no rule`).toBe(true);
  });

  describe.each(rules.map((r) => [r.id, r] as const))('%s', (id, rule) => {
    it('has fixtures with at least one fires and one silent case', () => {
      const fixtures = loadFixtures(DEFAULT_DETECTIONS_DIR, id);
      expect(fixtures.fires.length).toBeGreaterThan(0);
      expect(fixtures.silent.length).toBeGreaterThan(0);
    });

    it('fires on every fires case and stays silent on every silent case', async () => {
      expect(await fixtureProblems(rule, loadFixtures(DEFAULT_DETECTIONS_DIR, id))).toEqual([]);
    });
  });
});

describe('the fixture runner itself', () => {
  const sample = 'sample-refused-requests';
  const plant = (edit: (rule: Record<string, unknown>) => void) => {
    const dir = mkdtempSync(join(tmpdir(), 'carapace-rules-'));
    const rule = JSON.parse(readFileSync(join(DEFAULT_DETECTIONS_DIR, `${sample}.json`), 'utf8')) as Record<
      string,
      unknown
    >;
    edit(rule);
    writeFileSync(join(dir, `${sample}.json`), JSON.stringify(rule));
    writeFileSync(
      join(dir, `${sample}.fixtures.json`),
      readFileSync(join(DEFAULT_DETECTIONS_DIR, `${sample}.fixtures.json`), 'utf8'),
    );
    return dir;
  };

  it('catches a rule that fires on a silent case (threshold one too low)', async () => {
    const dir = plant((r) => ((r.evaluate as Record<string, unknown>).threshold = 4));
    const [rule] = loadRules(dir);
    const problems = await fixtureProblems(rule!, loadFixtures(dir, sample));
    expect(problems).toContain('silent "four refused requests: one below the threshold": fired (1 findings)');
  });

  it('catches a rule that reads too much (the decision condition dropped)', async () => {
    const dir = plant((r) => delete (r.match as Record<string, unknown>).decisions);
    const [rule] = loadRules(dir);
    const problems = await fixtureProblems(rule!, loadFixtures(dir, sample));
    expect(problems).toContain('silent "five allowed requests": fired (1 findings)');
  });

  it('catches a rule that no longer fires (window too short)', async () => {
    const dir = plant((r) => ((r.evaluate as Record<string, unknown>).window = '5s'));
    const [rule] = loadRules(dir);
    const problems = await fixtureProblems(rule!, loadFixtures(dir, sample));
    expect(problems.some((p) => p.startsWith('fires "five refused requests in a minute from one /24"'))).toBe(true);
  });

  it('refuses a rule without fixtures', () => {
    const dir = mkdtempSync(join(tmpdir(), 'carapace-rules-'));
    expect(() => loadFixtures(dir, sample)).toThrow(/fixtures.json is missing/);
  });
});
