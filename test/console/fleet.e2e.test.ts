import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../../src/client/index.js';
import { currentTotp } from '../../src/identity/index.js';
import { readScenario } from '../../src/server/index.js';
import { runFleet, unitsIn } from '../../src/simulator/index.js';
import { startTestCarapace, type TestCarapace } from '../../src/testing/index.js';
import { admin } from '../incidents-support.js';
import { httpsRequest } from '../../src/vehicle-sdk/index.js';
import { addPerson } from '../operators-support.js';
import { browserPresent, goTo, launchBrowser, shot, signedIn } from './browser-support.js';

const scenario = readScenario('scenarios/demo.yaml');

// The demo's simulated vehicles (the simulator the demo runs, over real mTLS) stream telemetry; the owner sends a
// command; the console's fleet page shows both without a reload.
describe.runIf(browserPresent)('the live fleet view in Chromium', () => {
  let cp: TestCarapace;
  let browser: Browser;
  let fleet: Awaited<ReturnType<typeof runFleet>>;
  let alice: CarapaceClient;

  beforeAll(async () => {
    cp = await startTestCarapace({ database: 'sqlite', overrides: { seedDemo: true } });
    const units = unitsIn(join(cp.config.dataDir, 'factory'), null).filter((u) =>
      ['TCU-DEMO-0001', 'TCU-DEMO-0002'].includes(u.serial),
    );
    expect(units.map((u) => u.serial)).toEqual(['TCU-DEMO-0001', 'TCU-DEMO-0002']);
    fleet = await runFleet({ units, gatewayUrl: cp.addresses.gateway, ca: cp.ca, intervalSeconds: 1, moving: 0 });
    expect(fleet.vehicles).toHaveLength(2);
    const u = scenario.users.find((x) => x.key === 'alice')!;
    alice = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await alice.login({
      email: u.email,
      password: u.password,
      scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
      ...(u.totp ? { totp: () => currentTotp(u.totp!, new Date()) } : {}),
    });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    fleet?.stop();
    await browser?.close();
    await cp?.stop();
  });

  it("shows each simulated vehicle's position, and a command job reaching its final state without a reload", async () => {
    const page = await signedIn(browser, cp, await addPerson(cp, 'vic', ['viewer']));
    const fleetRequests: string[] = [];
    page.on('request', (r) => r.url().includes('/admin/v1/fleet') && fleetRequests.push(new URL(r.url()).pathname));
    await goTo(page, 'fleet');
    const vehicles = page.getByRole('table', { name: 'Vehicles' });
    const row = (serial: string) => vehicles.getByRole('row').filter({ hasText: serial });
    // The position comes from the simulated unit's signed telemetry, as the admin plane's state route reads it.
    const car = fleet.vehicles.find((v) => v.unit.serial === 'TCU-DEMO-0001')!;
    await expect
      .poll(async () => (await admin(cp, 'GET', `/admin/v1/vehicles/${car.vehicleId}/state`)).status, {
        timeout: 15_000,
      })
      .toBe(200);
    const state = (await admin(cp, 'GET', `/admin/v1/vehicles/${car.vehicleId}/state`)).json as {
      position: { value: { lat: number } } | null;
    };
    expect(state.position).not.toBeNull();
    await expect
      .poll(() => row('TCU-DEMO-0001').textContent(), { timeout: 15_000 })
      .toContain(state.position!.value.lat.toFixed(5));
    expect(await row('TCU-DEMO-0002').textContent()).toContain('active');
    // The map plots the same positions (SVG, drawn from the same answer): each unit a dot titled with its position.
    const map = page.getByRole('img', { name: /Map of \d+ unit positions/ });
    await expect
      .poll(() => map.locator('[data-unit="TCU-DEMO-0001"] title').textContent())
      .toContain(state.position!.value.lat.toFixed(5));

    // The owner locks her car; the page, never reloaded, shows the job moving to its final state.
    const sent = await alice.api(
      'POST',
      `/v1/vehicles/${car.vehicleId}/commands`,
      { command: 'lock' },
      {
        'idempotency-key': 'fleet-view-lock',
      },
    );
    expect(sent.status, JSON.stringify(sent.json)).toBe(202);
    const jobId = (sent.json as { id: string }).id;
    const jobs = page.getByRole('table', { name: 'Command jobs' });
    await expect.poll(() => jobs.textContent(), { timeout: 15_000 }).toContain('lock');
    await expect
      .poll(
        async () =>
          ((await alice.api('GET', `/v1/vehicles/${car.vehicleId}/commands/${jobId}`)).json as { state: string }).state,
        { timeout: 15_000 },
      )
      .toBe('confirmed');
    await expect.poll(() => jobs.getByRole('row').filter({ hasText: 'lock' }).textContent()).toContain('confirmed');
    expect(await jobs.getByRole('row').filter({ hasText: 'lock' }).textContent()).toMatch(/queued.*confirmed/);
    // Pushed, not polled: one stream carried every change (it lasts minutes), and the page never asked again.
    expect(fleetRequests).toEqual(['/admin/v1/fleet/events']);
    await page.screenshot({ path: shot('console-fleet.png'), fullPage: true });
    await page.context().close();
  });

  it('answers the stream once for scripts, and refuses a console session without its header', async () => {
    const once = await httpsRequest(`${cp.addresses.admin}/admin/v1/fleet/events?once=1`, {
      ca: cp.ca,
      ...cp.operatorTls,
    });
    expect(once.status).toBe(200);
    expect(String(once.headers['content-type'])).toContain('text/event-stream');
    const [event, data] = once.text.split('\n');
    expect(event).toBe('event: fleet');
    expect((JSON.parse(data!.slice('data: '.length)) as { vehicles: unknown[] }).vehicles.length).toBeGreaterThan(1);
    const page = await signedIn(browser, cp, await addPerson(cp, 'val', ['viewer']));
    const status = await page.evaluate(async () => (await fetch('/admin/v1/fleet/events?once=1')).status);
    expect(status).toBe(403);
    await page.context().close();
  });
});
