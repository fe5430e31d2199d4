import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace } from '../../src/testing/index.js';
import { GatewayClient } from '../../src/vehicle-sdk/index.js';
import { admin } from '../incidents-support.js';
import { addPerson } from '../operators-support.js';
import { browserPresent, goTo, launchBrowser, press, shot, signedIn } from './browser-support.js';

const VIN = '1HGCM82633A004352';

/** A request sent from the signed-in page itself (its session cookie and CSRF header), as a crafted one would be. */
const fromPage = (page: Page, method: string, path: string, body?: unknown) =>
  page.evaluate(
    async ([m, p, b]) => {
      const res = await fetch(p as string, {
        method: m as string,
        headers: { 'x-carapace-console': '1', 'content-type': 'application/json' },
        body: b === undefined ? undefined : JSON.stringify(b),
      });
      return { status: res.status, body: (await res.json()) as { type?: string; detail?: string } };
    },
    [method, path, body] as const,
  );

// The console's governance charts, device search, history and replacement, and the authorization matrix page, each
// role-aware and decided by the server; one server and one browser for the file.
describe.runIf(browserPresent)('the console operations pages in Chromium', () => {
  let cp: TestCarapace;
  let browser: Browser;
  let viewer: Page;
  // The configured staging target: a port that accepts connections and never answers, so a run stays in progress
  // until the test drops them (a real run against the seeded demo takes minutes).
  let staging: Server;
  const held: Socket[] = [];

  beforeAll(async () => {
    staging = createServer((s) => void held.push(s));
    await new Promise<void>((resolve) => staging.listen(0, '127.0.0.1', resolve));
    const port = (staging.address() as AddressInfo).port;
    cp = await startTestCarapace({
      database: 'sqlite',
      overrides: { detect: { enabled: false }, inventory: { matrixTargets: [`staging=https://127.0.0.1:${port}`] } },
    });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    for (const s of held) s.destroy();
    staging?.close();
    await browser?.close();
    await cp?.stop();
  });

  it('charts the governance numbers over time from the snapshots the server recorded', async () => {
    // The viewer's session serves the whole file (expect.poll, which sign-in uses, runs inside a test only).
    viewer = await signedIn(browser, cp, await addPerson(cp, 'vick', ['viewer']));
    await goTo(viewer, 'overview');
    const charts = viewer.getByLabel('Governance over time');
    await expect.poll(() => charts.locator('figcaption').first().textContent()).toMatch(/Deny events.*snapshots since/);
    expect(await charts.locator('figure').count()).toBe(4);
    await viewer.screenshot({ path: shot('console-governance.png') });
  });

  it('finds a unit by serial and by VIN, shows its history, and replaces it only for a role that may', async () => {
    const unit = await cp.factoryUnit('TCU-OPS-1', VIN);
    const device = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    await device.enroll(unit);
    device.close();

    await goTo(viewer, 'devices');
    await viewer.getByLabel('Device id, TCU serial').fill('TCU-OPS-1');
    await viewer.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => viewer.getByLabel('Device', { exact: true }).textContent()).toContain(unit.deviceId);
    const changes = viewer.getByRole('table', { name: 'Lifecycle changes' });
    await expect.poll(() => changes.textContent()).toContain('pki.device.enrolled');
    expect(await viewer.getByRole('table', { name: 'Certificates of the unit' }).textContent()).toContain(
      'operational',
    );
    // A viewer is offered no replacement; the same session sending one anyway is refused.
    expect(await viewer.getByRole('button', { name: /Replace/ }).count()).toBe(0);
    const refused = await fromPage(viewer, 'POST', `/admin/v1/devices/${unit.deviceId}/replacement`, {
      tcuSerial: 'TCU-OPS-VIEWER',
      reason: 'a viewer trying to replace',
    });
    expect(refused.status).toBe(403);

    const pia = await signedIn(browser, cp, await addPerson(cp, 'pia', ['pki_officer']));
    await goTo(pia, 'devices');
    await pia.getByLabel('Device id, TCU serial').fill(VIN.toLowerCase());
    await pia.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => pia.getByLabel('Device', { exact: true }).textContent()).toContain('TCU-OPS-1');
    expect(await pia.getByRole('button', { name: /Replace/ }).textContent()).toContain('needs elevation');
    await press(pia, 'Elevate', 'replacing a failed unit');
    await expect.poll(() => pia.locator('[aria-label="Signed in"]').textContent()).toContain('elevated until');
    await pia.getByLabel('New TCU serial').fill('TCU-OPS-2');
    await press(pia, 'Replace', 'unit failed in the field, console test');
    await expect.poll(() => pia.getByLabel('Device', { exact: true }).textContent()).toContain('TCU-OPS-2');
    // The vehicle now has two units; the old one's history ends with its decommissioning.
    await pia.getByRole('button', { name: 'Look up' }).click();
    const found = pia.getByRole('table', { name: 'Units found' });
    await expect.poll(() => found.getByRole('row').count()).toBe(3);
    await pia.getByRole('button', { name: 'Open TCU-OPS-1 (decommissioned)' }).click();
    await expect
      .poll(() => pia.getByRole('table', { name: 'Lifecycle changes' }).textContent())
      .toContain('decommissioned');
    await pia.screenshot({ path: shot('console-device-history.png'), fullPage: true });
    await pia.context().close();
  });

  it('shows the last matrix report to a viewer, who may not run one; a security admin runs one on a target', async () => {
    // A report as `carapace authz-matrix --report` writes it: one unexpected cell and one unreached, with reasons.
    const cell = { phase: 'seeded', relations: [], command: undefined };
    writeFileSync(
      join(cp.config.dataDir, 'authz-report.json'),
      JSON.stringify({
        cells: [
          { ...cell, persona: 'dana', action: 'delegation:list', route: 'GET /v1/vehicles/:vehicleId/delegations' },
          { ...cell, persona: 'bob', action: 'vehicle:read_status', route: 'GET /v1/vehicles/:vehicleId/status' },
          { ...cell, persona: 'carol', action: 'vehicle:lock', route: 'POST /v1/vehicles/:vehicleId/commands' },
        ].map((c, i) => ({
          ...c,
          object: 'alice-car',
          expected: i === 0 ? 403 : i === 1 ? 404 : 'allowed',
          observed: i === 0 ? 'allowed' : i === 1 ? 404 : 'unreached',
          unexpected: i === 0,
          unreached: i === 2,
          ...(i === 2 ? { note: 'validation answered first: the lock body was refused' } : {}),
        })),
        summary: {
          cells: 3,
          allowed: 1,
          denied: 1,
          unexpected: 1,
          unreached: 1,
          phases: ['seeded'],
          routes: 3,
          routesReached: 2,
          routesMissing: ['POST /v1/vehicles/:vehicleId/transfer'],
          unresolved: [],
        },
      }),
    );
    await goTo(viewer, 'matrix');
    const unexpected = viewer.getByRole('table', { name: 'Unexpected cells' });
    await expect.poll(() => unexpected.textContent()).toContain('delegation:list');
    expect(await unexpected.textContent()).toContain('dana');
    expect(await viewer.getByRole('table', { name: 'Unreached cells' }).textContent()).toContain(
      'validation answered first',
    );
    expect(await viewer.getByRole('table', { name: 'Matrix totals' }).textContent()).toContain('2 of 3');
    expect(await viewer.getByLabel('Routes never reached').textContent()).toContain('/transfer');
    expect(await viewer.getByRole('button', { name: /Run the matrix/ }).count()).toBe(0);
    expect((await fromPage(viewer, 'POST', '/admin/v1/authz-matrix/runs', { target: 'staging' })).status).toBe(403);

    const sam = await signedIn(browser, cp, await addPerson(cp, 'sam', ['security_admin']));
    // The allowlist: the body names a configured target, never an address.
    for (const body of [{ target: 'staging', url: 'https://169.254.169.254' }, { target: 'https://127.0.0.1:1' }]) {
      const res = await fromPage(sam, 'POST', '/admin/v1/authz-matrix/runs', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.type).toBe('urn:carapace:problem:validation');
    }
    const unknown = await fromPage(sam, 'POST', '/admin/v1/authz-matrix/runs', { target: 'production' });
    expect([unknown.status, unknown.body.detail]).toEqual([400, 'no such matrix target is configured']);

    await goTo(sam, 'matrix');
    await sam.getByRole('button', { name: 'Run the matrix' }).click();
    const run = sam.getByLabel('Matrix run');
    await expect.poll(() => run.getAttribute('data-state')).toBe('running');
    expect(await run.textContent()).toContain('staging by sam');
    // One run at a time: a second is refused with the server's detail.
    await sam.getByRole('button', { name: 'Run the matrix' }).click();
    await expect.poll(() => sam.getByRole('alert').first().textContent()).toContain('a matrix run is in progress');
    await expect.poll(() => held.length, { timeout: 15_000 }).toBeGreaterThan(0);
    for (const s of held) s.destroy();
    await expect.poll(() => run.getAttribute('data-state'), { timeout: 20_000 }).toBe('failed');
    expect(await sam.getByLabel('Run output').textContent()).toMatch(/\S/);
    await sam.screenshot({ path: shot('console-matrix.png'), fullPage: true });
    // The last report stays: a failed run never replaces it.
    expect(await sam.getByRole('table', { name: 'Unexpected cells' }).textContent()).toContain('delegation:list');

    const events = await admin(cp, 'GET', '/admin/v1/audit-events?typePrefix=console.matrix_run.');
    const trail = (events.json.events as Array<{ type: string; actor: { id: string | null }; details: object }>).map(
      (e) => [e.type, e.actor.id, (e.details as { target: string }).target],
    );
    expect(trail).toEqual([
      ['console.matrix_run.finished', null, 'staging'],
      ['console.matrix_run.started', 'sam', 'staging'],
    ]);
    await sam.context().close();
  });
});
