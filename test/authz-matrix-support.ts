import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MATRIX_ROUTES, runMatrix, summaryLine } from '../src/authz-matrix/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace } from '../src/testing/index.js';

/** The full matrix on one engine, on a server whose clock the matrix advances (expiry without sleeping). */
export function matrixSuite(database: 'sqlite' | 'postgres'): void {
  describe(`authorization matrix on the demo scenario (${database})`, () => {
    let cp: TestCarapace;
    let offset = 0;
    // The wall clock plus what the matrix advanced: DPoP proofs and tokens signed on the wall clock stay fresh.
    const clock = { now: () => new Date(Date.now() + offset) };
    beforeAll(async () => {
      // Detection is off: thousands of deliberate denials would only raise findings, which are not under test here.
      cp = await startTestCarapace({ database, clock, overrides: { seedDemo: true, detect: { enabled: false } } });
    }, 120_000);
    afterAll(async () => cp?.stop());

    it('knows every token-authorized route of the public API, with the same action and scopes', () => {
      // Token routes: the authorization server's own endpoints and sign-in pages, CRLs and health are not
      // object routes.
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
      const report = await runMatrix(
        readScenario('scenarios/demo.yaml'),
        { baseUrl: cp.config.publicBaseUrl, ca: cp.ca, partnerKeysDir: join(cp.config.dataDir, 'demo') },
        { clock: { now: () => clock.now().getTime(), advance: (ms) => void (offset += ms) } },
      );
      process.stdout.write(
        `${summaryLine(report)} allowed=${report.summary.allowed} denied=${report.summary.denied}\n`,
      );
      // Unreached cells are allowed probes that validation stopped: justified only on the state-changing routes
      // still sent as probes (an unknown query parameter instead of a valid body, issue 19); a read route never.
      const probeRoutes = new Set(MATRIX_ROUTES.filter((r) => r.mode === 'probe').map((r) => `${r.method} ${r.path}`));
      const unjustified = report.cells.filter((c) => c.unreached && !probeRoutes.has(c.route));
      expect(unjustified.map((c) => `${c.persona} ${c.route} ${c.object}`)).toEqual([]);
      expect(report.summary.unreached).toBe(report.cells.filter((c) => c.observed === 'unreached').length);
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
        'after an invitation was accepted',
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
      // Per-command cells: the real decision for each command, so delegated commands, the dealer's diagnostics,
      // immobilize, the command's own scope and the step-up guardrail are each inside the matrix.
      const cmd = (phase: string, persona: string, command: string, object: string) =>
        report.cells.find(
          (c) => c.phase === phase && c.persona === persona && c.command === command && c.object === object,
        )?.observed;
      const seeded = 'seeded';
      expect(cmd(seeded, 'dana', 'lock', 'alice-car')).toBe('allowed');
      expect(cmd(seeded, 'dana', 'unlock', 'alice-car')).toBe(401); // delegated, but a step-up command: no MFA
      expect(cmd(seeded, 'dana', 'remote_start', 'alice-car')).toBe(403); // not delegated
      expect(cmd(seeded, 'alice', 'unlock', 'alice-car')).toBe('allowed');
      expect(cmd(seeded, 'alice', 'immobilize', 'alice-car')).toBe(403);
      expect(cmd(seeded, 'alice', 'lock', 'bob-car')).toBe(404);
      expect(cmd(seeded, 'sean', 'immobilize', 'alice-car')).toBe('allowed');
      expect(cmd(seeded, 'derek', 'diagnostics_run', 'bob-car')).toBe('allowed');
      expect(cmd(seeded, 'derek', 'lock', 'bob-car')).toBe(403);
      expect(cmd(seeded, 'oscar', 'diagnostics_run', 'northwind-van-1')).toBe(403);
      expect(cmd(seeded, 'sam', 'lock', 'alice-car')).not.toBe('allowed'); // no just-in-time approval
      expect(cmd('during a short delegation', 'frank', 'lock', 'alice-car')).toBe('allowed');
      expect(cmd('during a short delegation', 'frank', 'climate', 'alice-car')).toBe(403);
      expect(cmd('after the delegation expired', 'frank', 'lock', 'alice-car')).toBe(404);
      expect(cmd('after transfer', 'alice', 'lock', 'alice-car')).toBe(404);
      // Real jobs, read by everyone: the requester and the vehicle's holders of the time see a job, nobody else.
      const job = (phase: string, persona: string, key: string) =>
        report.cells.find((c) => c.phase === phase && c.persona === persona && c.object === key)?.observed;
      expect(job(seeded, 'dana', 'job#alice-car#dana')).toBe('allowed');
      expect(job(seeded, 'alice', 'job#alice-car#dana')).toBe('allowed');
      expect(job(seeded, 'dana', 'job#alice-car#alice')).toBe(404);
      expect(job(seeded, 'bob', 'job#alice-car#alice')).toBe(404);
      expect(job(seeded, 'oscar', 'job#northwind-van-1#fiona')).toBe('allowed');
      expect(job(seeded, 'oscar', 'job#northwind-van-2#fiona')).toBe(404);
      // After the transfer the new owner reads the vehicle's jobs of his own time only: none of Alice's.
      expect(job('after transfer', 'bob', 'job#alice-car#alice')).toBe(404);
      expect(job('after transfer', 'alice', 'job#alice-car#alice')).toBe(404);
      expect(report.cells.filter((c) => c.object.startsWith('job#')).length).toBeGreaterThan(100);
      // Invitations with a role in the body: the granting role decides, per role (a dealer makes no fleet admin).
      const cell = (phase: string, persona: string, route: string, object: string) =>
        report.cells.find((c) => c.phase === phase && c.persona === persona && c.route === route && c.object === object)
          ?.observed;
      const invite = 'POST /v1/tenants/{id}/invitations';
      expect(cell(seeded, 'fiona', invite, 'northwind|fleet_operator')).toBe('allowed');
      expect(cell(seeded, 'fiona', invite, 'northwind|dealer_technician')).toBe(403);
      expect(cell(seeded, 'derek', invite, 'main-street-motors|fleet_admin')).toBe(403);
      expect(cell(seeded, 'alice', invite, 'alice-household|driver')).toBe('allowed');
      expect(cell(seeded, 'sean', invite, 'carapace-motors|security_admin')).toBe('allowed');
      // A real invitation made through the API: only its invitee may use the code, and only once.
      const accept = 'POST /v1/invitations/accept';
      const code = 'invitation#northwind#fleet_admin';
      expect(cell(seeded, 'sue', accept, code)).toBeUndefined(); // her use of it is the event
      expect(cell(seeded, 'frank', accept, code)).toBe(404);
      const used = 'after an invitation was accepted';
      expect(cell(used, 'sue', accept, code)).toBe(404);
      // Sue is now a fleet admin, but her support console's token has no admin scope: no webhooks for her.
      expect(cell(used, 'sue', 'GET /v1/tenants/{id}/webhooks', 'northwind')).toBe(404);
      expect(cell(used, 'sue', invite, 'northwind|fleet_operator')).toBe('allowed');
      // Bob sold his own car to Dana, who signs in without a second factor: an owner, short of the MFA actions.
      const after = 'after transfer';
      expect(cell(after, 'dana', 'GET /v1/vehicles/{id}', 'bob-car')).toBe('allowed');
      expect(cell(after, 'dana', 'POST /v1/vehicles/{id}/transfer', 'bob-car')).toBe(403);
      expect(cell(after, 'dana', 'POST /v1/vehicles/{id}/partner-grants', 'bob-car')).toBe(403);
      expect(cell(after, 'dana', 'POST /v1/vehicles/{id}/delegations', 'bob-car')).toBe('unreached');
      expect(job(after, 'dana', 'job#bob-car#bob')).toBe(404);
      // Sean, a security admin, bought Bob's other car: as its owner he still immobilizes only with a reason.
      expect(cmd(after, 'sean', 'immobilize', 'frank-old-car')).toBe('allowed');
      expect(cmd(after, 'sean', 'immobilize (no reason)', 'frank-old-car')).toBe(403);
      // The contents of the owner's lists are checked too (drivers, pending invites, consents), not only the status.
      const lists = report.cells.filter(
        (c) => ['delegation:list', 'partner_grant:list'].includes(c.action) && c.observed === 'allowed',
      );
      expect(lists.length).toBeGreaterThan(10);
      const perCommand = report.cells.filter((c) => c.command);
      const count = (outcome: unknown) => perCommand.filter((c) => c.observed === outcome).length;
      expect([count('allowed') > 50, count(401) > 0, count(403) > 100, count(404) > 100]).toEqual([
        true,
        true,
        true,
        true,
      ]);
      expect(summaryLine(report)).toMatch(/cells=\d+ unexpected=0 unreached=\d+ routes=(\d+)\/\1$/);
    }, 300_000);
  });
}
