import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp } from '../../src/identity/index.js';
import { startTestCarapace, type TestCarapace } from '../../src/testing/index.js';
import { addPerson, type Person } from '../operators-support.js';
import { type GatewayClient, httpsRequest } from '../../src/vehicle-sdk/index.js';

const CHROMIUM = '/usr/bin/chromium';
// Screenshots go to a scratch folder, so a test run changes no tracked file; SCREENSHOTS_DIR=docs/screenshots
// refreshes the README's pictures.
const SHOTS = process.env.SCREENSHOTS_DIR ?? mkdtempSync(join(tmpdir(), 'carapace-console-shots-'));
const shot = (name: string) => join(SHOTS, name);
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'];
FLAGS.push('--disable-component-update', '--disable-sync');
// In CI a missing browser fails the run; locally it is reported skipped, never counted as passing.
const present = existsSync(CHROMIUM) || process.env.CI === 'true';

describe.runIf(present)('the operators console in Chromium', () => {
  let cp: TestCarapace;
  let device: GatewayClient;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    cp = await startTestCarapace({ database: 'sqlite' });
    device = await cp.enrolledDevice('TCU-CONSOLE-1');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
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

  /** Signs in through the console's link, the authorization server's pages (password, one-time code, consent). */
  async function signedIn(person: Person): Promise<Page> {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    await page.goto(`${cp.addresses.admin}/console/`);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(person.password);
    await page.getByLabel(/One-time code/).fill(currentTotp(person.totp as string, new Date()));
    await page.getByRole('button', { name: 'Sign in' }).click();
    const allow = page.getByRole('button', { name: 'Allow' });
    await page.waitForURL(/\/console\/|\/interaction\//);
    if (page.url().includes('/interaction/')) await allow.click();
    await page.waitForURL(/\/console\//);
    await expect.poll(() => page.locator('[aria-label="Signed in"]').textContent()).toContain(person.name);
    return page;
  }

  const lookUp = async (page: Page, id: string) => {
    // The signed-in origin (the configured console URL), which the session cookie belongs to.
    await page.goto(`${new URL(page.url()).origin}/console/#devices`);
    await page.getByLabel('Device id').fill(id);
    await page.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => page.getByLabel('Device', { exact: true }).textContent()).toContain(id);
  };
  const press = async (page: Page, label: string, reason: string) => {
    page.once('dialog', (d) => void d.accept(reason));
    await page.getByRole('button', { name: label }).click();
  };

  it('a person signed in with the viewer role cannot revoke: the page shows the refusal and the vehicle is served', async () => {
    const unit = await cp.enrolledDevice('TCU-CONSOLE-2');
    const page = await signedIn(await addPerson(cp, 'vera', ['viewer']));
    await lookUp(page, unit.credentials!.issued.deviceId);
    await press(page, 'Revoke', 'a viewer trying to revoke');
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/role does not allow/);
    await expect(unit.self()).resolves.toBeDefined();
    await page.screenshot({ path: shot('console-viewer-refused.png') });
    await page.context().close();
    unit.close();
  });

  it('a responder quarantines, cannot release without elevation, elevates with a reason, then releases', async () => {
    const unit = await cp.enrolledDevice('TCU-CONSOLE-3');
    const id = unit.credentials!.issued.deviceId;
    const page = await signedIn(await addPerson(cp, 'rui', ['responder']));
    await lookUp(page, id);
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
