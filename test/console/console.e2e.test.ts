import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace } from '../../src/testing/index.js';
import { addPerson } from '../operators-support.js';
import { type GatewayClient, httpsRequest } from '../../src/vehicle-sdk/index.js';
import { browserPresent, goTo, launchBrowser, press, shot, signedIn } from './browser-support.js';

describe.runIf(browserPresent)('the operators console in Chromium', () => {
  let cp: TestCarapace;
  let device: GatewayClient;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    cp = await startTestCarapace({ database: 'sqlite' });
    device = await cp.enrolledDevice('TCU-CONSOLE-1');
    browser = await launchBrowser();
    // Until operator sign-in lands, the browser presents the operator certificate (automation role).
    context = await browser.newContext({
      ignoreHTTPSErrors: true,
      clientCertificates: [
        { origin: cp.addresses.admin, cert: Buffer.from(cp.operatorTls.cert), key: Buffer.from(cp.operatorTls.key) },
      ],
    });
  }, 30_000);
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    device?.close();
    await cp?.stop();
  });

  it('serves the page with a CSP that allows no inline script and no framing, and never caches it', async () => {
    const res = await httpsRequest(`${cp.addresses.admin}/console/`, { ca: cp.ca });
    expect(res.status).toBe(200);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    const traversal = await httpsRequest(`${cp.addresses.admin}/console/assets/..%2F..%2Fpackage.json`, { ca: cp.ca });
    expect(traversal.status).toBe(400);
    const unknown = await httpsRequest(`${cp.addresses.admin}/console/assets/nope.js`, { ca: cp.ca });
    expect(unknown.status).toBe(404);
  });

  it('revokes a device from the devices page, and the vehicle is refused at once', async () => {
    const page = await context.newPage();
    const id = device.credentials!.issued.deviceId;
    await device.self(); // accepted before
    await page.goto(`${cp.addresses.admin}/console/#devices`);
    await page.getByLabel('Device id').fill(id);
    await page.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => page.getByLabel('Device', { exact: true }).textContent()).toContain(id);
    page.once('dialog', (d) => void d.accept('stolen unit, console test'));
    await page.getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => page.getByLabel('Device', { exact: true }).textContent()).toContain('"revoked"');
    await page.screenshot({ path: shot('console-devices.png') });
    await expect(device.self()).rejects.toThrow();
    await page.close();
  });

  it('investigates from the device and shows the graph with its evidence', async () => {
    const page = await context.newPage();
    await page.goto(`${cp.addresses.admin}/console/#investigation`);
    await page.getByLabel('Start from').selectOption('device');
    await page.getByLabel('Value').fill(device.credentials!.issued.deviceId);
    await page.getByRole('button', { name: 'Investigate' }).click();
    await expect.poll(() => page.getByLabel('Investigation graph').textContent()).toContain('TCU-CONSOLE-1');
    await page.screenshot({ path: shot('console-investigation.png') });
    await page.close();
  });

  it('shows the overview', async () => {
    const page = await context.newPage();
    await page.goto(`${cp.addresses.admin}/console/`);
    await expect.poll(() => page.getByRole('heading', { name: 'Overview' }).count()).toBe(1);
    await page.screenshot({ path: shot('console-overview.png') });
    await page.close();
  });

  const lookUp = async (page: Page, id: string) => {
    await goTo(page, 'devices');
    await page.getByLabel('Device id').fill(id);
    await page.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => page.getByLabel('Device', { exact: true }).textContent()).toContain(id);
  };

  it('a person signed in with the viewer role is offered no revoke, and a revoke sent anyway is refused', async () => {
    const unit = await cp.enrolledDevice('TCU-CONSOLE-2');
    const id = unit.credentials!.issued.deviceId;
    const page = await signedIn(browser, cp, await addPerson(cp, 'vera', ['viewer']));
    await lookUp(page, id);
    // The page asks the server what the role allows (operator/me `may`) and offers no lifecycle action.
    for (const name of ['Revoke', 'Quarantine', 'Release'])
      expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    // The server still decides: the same session sending the revoke from the page is refused.
    const refused = await page.evaluate(async (deviceId) => {
      const res = await fetch(`/admin/v1/devices/${deviceId}/status`, {
        method: 'POST',
        headers: { 'x-carapace-console': '1', 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'revoked', reason: 'a viewer trying to revoke' }),
      });
      return { status: res.status, body: (await res.json()) as { detail?: string } };
    }, id);
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toMatch(/role does not allow/);
    await expect(unit.self()).resolves.toBeDefined();
    await page.screenshot({ path: shot('console-viewer-devices.png') });
    await page.context().close();
    unit.close();
  });

  it('a responder quarantines, cannot release without elevation, elevates with a reason, then releases', async () => {
    const unit = await cp.enrolledDevice('TCU-CONSOLE-3');
    const id = unit.credentials!.issued.deviceId;
    const page = await signedIn(browser, cp, await addPerson(cp, 'rui', ['responder']));
    await lookUp(page, id);
    // A responder never revokes (the policy's rule), so the page does not offer it; a release says it needs elevation.
    expect(await page.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Release' }).textContent()).toContain('needs elevation');
    await press(page, 'Quarantine', 'suspicious telemetry, console test');
    await expect.poll(() => page.getByLabel('Device', { exact: true }).textContent()).toContain('"quarantined"');
    await expect(unit.self()).rejects.toThrow();
    await press(page, 'Release', 'false alarm, console test');
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/elevat/i);
    expect(await page.getByLabel('Device', { exact: true }).textContent()).toContain('"quarantined"');
    await press(page, 'Elevate', 'releasing a false-alarm quarantine');
    await expect.poll(() => page.locator('[aria-label="Signed in"]').textContent()).toContain('elevated until');
    await press(page, 'Release', 'false alarm, console test');
    await expect.poll(() => page.getByLabel('Device', { exact: true }).textContent()).toContain('"active"');
    await expect(unit.self()).resolves.toBeDefined();
    await page.context().close();
    unit.close();
  });
});
