import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MATRIX_ROUTES, runMatrix, summaryLine } from '../src/authz-matrix/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

describe.each(testEngines())('authorization matrix on the demo scenario (%s)', (database) => {
  let cp: TestCarapace;
  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('knows every token-authorized route of the public API, with the same action and scopes', () => {
    // Token routes: the authorization server's own endpoints and sign-in pages, CRLs and health are not object routes.
    const live = cp.listeners.public.routes.filter(
      (r) =>
        r.method !== 'HEAD' && !r.entry.callers.includes('anonymous') && !/^\/(oauth|interaction)(\/|$)/.test(r.url),
    );
    expect(live.length).toBeGreaterThan(30);
    const known = new Map(
      MATRIX_ROUTES.map((r) => [`${r.method} ${r.path.replace(/\{id\}|\{other\}|\{job\}/g, ':x')}`, r]),
    );
    const norm = (url: string) => url.replace(/:[A-Za-z]+/g, ':x');
    const missing = live.filter((r) => !known.has(`${r.method} ${norm(r.url)}`)).map((r) => `${r.method} ${r.url}`);
    expect(missing).toEqual([]);
    for (const r of live) {
      const m = known.get(`${r.method} ${norm(r.url)}`);
      expect({ route: `${r.method} ${r.url}`, action: m?.action, scopes: [...(m?.scopes ?? [])].sort() }).toEqual({
        route: `${r.method} ${r.url}`,
        action: r.entry.action,
        scopes: [...r.entry.scopes].sort(),
      });
    }
  });

  it('runs every persona x object x action as real HTTP with zero unexpected cells and full route coverage', async () => {
    // The short delegation must outlast its phase (every on-vehicle cell, the command routes included) even on
    // a loaded 2-core machine: a cell sent just before the end and judged just after is a false "unexpected".
    const report = await runMatrix(
      readScenario('scenarios/demo.yaml'),
      { baseUrl: cp.config.publicBaseUrl, ca: cp.ca, partnerKeysDir: join(cp.config.dataDir, 'demo') },
      { delegationSeconds: 8 },
    );
    process.stdout.write(`${summaryLine(report)} allowed=${report.summary.allowed} denied=${report.summary.denied}\n`);
    const unexpected = report.cells
      .filter((c) => c.unexpected)
      .map(
        (c) =>
          `${c.phase} | ${c.persona} ${c.route} ${c.object}: expected ${c.expected} got ${c.observed} ${c.note ?? ''}`,
      );
    expect(unexpected).toEqual([]);
    expect(report.summary.unresolved).toEqual([]);
    expect(report.summary.routesMissing).toEqual([]);
    expect(report.summary.phases).toEqual([
      'seeded',
      'after partner consent revoked',
      'after support case closed',
      'after service case closed',
      'during a short delegation',
      'after the delegation expired',
      'after transfer',
    ]);
    // Both outcomes occur in quantity: a matrix that allowed or denied everything would fail here.
    expect(report.summary.allowed).toBeGreaterThan(100);
    expect(report.summary.denied).toBeGreaterThan(1000);
    // The time-dependent cells flip: the short-delegation driver reads the car, then cannot.
    const frank = (phase: string) =>
      report.cells.find(
        (c) => c.phase === phase && c.persona === 'frank' && c.action === 'vehicle:read' && c.object === 'alice-car',
      );
    expect(frank('during a short delegation')?.observed).toBe('allowed');
    expect(frank('after the delegation expired')?.observed).toBe(404);
    const alice = report.cells.find(
      (c) =>
        c.phase === 'after transfer' &&
        c.persona === 'alice' &&
        c.action === 'vehicle:read' &&
        c.object === 'alice-car',
    );
    expect(alice?.observed).toBe(404);
    expect(summaryLine(report)).toMatch(/cells=\d+ unexpected=0 routes=(\d+)\/\1$/);
  }, 300_000);
});

// On SQLite only: the mutation is in the policies, which decide alike on both engines; the full matrix above
// already runs on each engine, and this run costs a minute of a 2-core CI.
describe.each(testEngines().filter((e) => e === 'sqlite'))(
  'authorization matrix catches a policy that grants too much (%s)',
  (database) => {
    let cp: TestCarapace;
    let dir: string;
    beforeAll(async () => {
      // A plausible mistake: a driver may also manage the vehicle's drivers (re-share it).
      dir = mkdtempSync(join(tmpdir(), 'carapace-policies-'));
      cpSync('policies', dir, { recursive: true });
      const drivers = readFileSync(join(dir, 'drivers.cedar'), 'utf8');
      writeFileSync(
        join(dir, 'drivers.cedar'),
        drivers.replace(
          'Carapace::Action::"vehicle:read_location"\n  ],',
          'Carapace::Action::"vehicle:read_location",\n    Carapace::Action::"delegation:list"\n  ],',
        ),
      );
      cp = await startTestCarapace({ database, overrides: { seedDemo: true, policy: { dir } } });
    }, 120_000);
    afterAll(async () => {
      await cp?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('reports the over-broad cells as unexpected', async () => {
      expect(readFileSync(join(dir, 'drivers.cedar'), 'utf8')).toContain('"delegation:list"');
      // The over-broad grant shows in the seeded state already; the later phases add minutes and nothing to this.
      const report = await runMatrix(
        readScenario('scenarios/demo.yaml'),
        { baseUrl: cp.config.publicBaseUrl, ca: cp.ca, partnerKeysDir: join(cp.config.dataDir, 'demo') },
        { seededOnly: true },
      );
      expect(report.summary.phases).toEqual(['seeded']);
      const wrong = report.cells.filter((c) => c.unexpected);
      expect(wrong.length).toBeGreaterThan(0);
      expect(wrong.every((c) => c.action === 'delegation:list' && c.observed === 'allowed' && c.expected === 403)).toBe(
        true,
      );
      expect(wrong.some((c) => c.persona === 'dana' && c.object === 'alice-car')).toBe(true);
    }, 300_000);
  },
);
