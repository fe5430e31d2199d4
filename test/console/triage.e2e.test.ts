import https from 'node:https';
import type { Browser, Page } from 'playwright-core';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace } from '../../src/testing/index.js';
import { type GatewayClient, httpsRequest } from '../../src/vehicle-sdk/index.js';
import { admin } from '../incidents-support.js';
import { addPerson, type Person } from '../operators-support.js';
import { browserPresent, goTo, launchBrowser, press, shot, signedIn } from './browser-support.js';

/** Opens the unit's command channel with its certificate; resolves once it is open (or refused). */
async function channel(device: GatewayClient): Promise<WebSocket> {
  const { ca, cert, key, gatewayUrl } = device.tlsIdentity();
  const { token } = await device.commandToken(true);
  const ws = new WebSocket(`${gatewayUrl.replace('https:', 'wss:')}/v1/commands/channel`, {
    ca,
    cert,
    key,
    headers: { authorization: `Bearer ${token}` },
  });
  await new Promise<void>((resolve) => {
    ws.once('open', () => resolve());
    ws.once('close', () => resolve());
    ws.once('error', () => resolve());
  });
  return ws;
}

/** The unit's own GET over a fresh mTLS connection: what the gateway answers the vehicle now. */
const vehicleAsks = (cp: TestCarapace, device: GatewayClient) => {
  const { key, issued } = device.credentials!;
  return httpsRequest(`${cp.addresses.gateway}/v1/devices/${issued.deviceId}`, {
    ca: cp.ca,
    cert: issued.certificate,
    key: key.privateKeyPem,
    agent: new https.Agent({ keepAlive: false }),
  }).then(
    (r) => r.status,
    () => 'refused',
  );
};

interface Step {
  stepId: string;
  state: string;
  approval: string;
  decidedBy: string | null;
}
interface Run {
  state: string;
  requestedBy: string;
  steps: Step[];
}

// A deployment where every step that touches a vehicle needs a second operator (threshold 0), so the shipped
// device-credential-compromise playbook stops at its first step for two people.
describe.runIf(browserPresent)('triage and a playbook run with two operators in Chromium', () => {
  let cp: TestCarapace;
  let browser: Browser;
  let unit: GatewayClient;
  let first: WebSocket;
  let findingId: string;
  let incidentId: string;
  let sam: Person;
  let tess: Person;

  const runsOf = async () =>
    ((await admin(cp, 'GET', `/admin/v1/incidents/${incidentId}/runs`)).json as unknown as { runs: Run[] }).runs;

  beforeAll(async () => {
    cp = await startTestCarapace({
      database: 'sqlite',
      overrides: { detect: { interval: 0.1 }, incidents: { approvalVehicleThreshold: 0 } },
    });
    sam = await addPerson(cp, 'sam', ['security_admin']);
    tess = await addPerson(cp, 'tess', ['security_admin']);
    browser = await launchBrowser();
    // The attack: the unit's certificate on a second command channel while the first is open (a clone).
    unit = await cp.enrolledDevice('TCU-TRIAGE-1');
    first = await channel(unit);
    expect(first.readyState).toBe(WebSocket.OPEN);
    (await channel(unit)).close();
    // The engine raises the finding and opens its incident (critical) within a few rounds; bounded wait.
    for (let i = 0; i < 100 && !incidentId; i++) {
      const res = await admin(cp, 'GET', '/admin/v1/findings?rule=certificate-two-connections&status=open');
      const [f] = (res.json as { findings: { id: string; incidentId: string | null }[] }).findings;
      if (f?.incidentId) [findingId, incidentId] = [f.id, f.incidentId];
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(incidentId, 'the clone raised a finding with an incident').toBeTruthy();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    first?.close();
    unit?.close();
    await cp?.stop();
  });

  const openIncident = async (page: Page) => {
    await goTo(page, 'findings');
    await page.getByRole('button', { name: 'Incident of certificate-two-connections' }).click();
    await expect.poll(() => page.getByLabel('Incident state').textContent()).toContain('critical');
  };
  /** The table row with a cell that says exactly `text` (a step id, a rule id). */
  const rowWith = (page: Page, text: string) =>
    page.getByRole('row').filter({ has: page.getByRole('cell', { name: text, exact: true }) });

  it('one operator triages and starts a run, is refused its approval; a second approves: the vehicle is cut off', async () => {
    expect(await vehicleAsks(cp, unit)).toBe(200);

    // Sam triages: the finding's incident, moved to triaged with a reason, taken, noted.
    const samPage = await signedIn(browser, cp, sam);
    await openIncident(samPage);
    await samPage.getByLabel('Move to').selectOption('triaged');
    await samPage.getByLabel('Reason', { exact: true }).fill('a clone of TCU-TRIAGE-1 on a second channel');
    await samPage.getByRole('button', { name: 'Move', exact: true }).click();
    await expect.poll(() => samPage.getByLabel('Incident state').textContent()).toContain('triaged');
    await samPage.getByRole('button', { name: 'Assign to me' }).click();
    await expect.poll(() => samPage.getByLabel('Incident state').textContent()).toContain('owner sam');
    await samPage.getByLabel('Note', { exact: true }).fill('asked the workshop whether the unit was swapped');
    await samPage.getByRole('button', { name: 'Add note' }).click();
    await expect.poll(() => samPage.getByLabel('Timeline').textContent()).toContain('asked the workshop');

    // Starting a run is sensitive: refused until sam elevates, and the page shows the server's detail.
    await samPage.getByLabel('Playbook', { exact: true }).selectOption('device-credential-compromise');
    await samPage.getByRole('button', { name: 'Dry run' }).click();
    await expect
      .poll(() => samPage.getByRole('table', { name: /Dry run of device-credential-compromise/ }).textContent())
      .toContain('two operators');
    await samPage.getByRole('button', { name: 'Run playbook' }).click();
    await expect.poll(() => samPage.getByRole('alert').first().textContent()).toMatch(/elevat/i);
    expect(await runsOf()).toEqual([]);
    await press(samPage, 'Elevate', 'INC triage: contain the cloned unit');
    await expect.poll(() => samPage.locator('[aria-label="Signed in"]').textContent()).toContain('elevated until');
    await samPage.getByRole('button', { name: 'Dry run' }).click();
    await samPage.getByRole('button', { name: 'Run playbook' }).click();
    await expect.poll(() => rowWith(samPage, 'suspend').textContent()).toContain('awaiting_approval');
    const [run] = await runsOf();
    expect(run).toMatchObject({ requestedBy: 'sam', state: 'awaiting_approval' });
    expect(run!.steps[0]).toMatchObject({ stepId: 'suspend', approval: 'two-person', state: 'awaiting_approval' });

    // Sam's own approval is refused by the server, and the page says why.
    await press(samPage, 'Approve suspend', 'my own run');
    await expect.poll(() => rowWith(samPage, 'suspend').getByRole('alert').textContent()).toMatch(/second operator/);
    await samPage.screenshot({ path: shot('console-approval-refused.png'), fullPage: true });
    expect((await runsOf())[0]!.steps[0]).toMatchObject({ state: 'awaiting_approval', decidedBy: null });
    expect(await vehicleAsks(cp, unit)).toBe(200);
    expect(first.readyState).toBe(WebSocket.OPEN);

    // Tess, in her own browser context, elevates and approves each step the run stops at, until it is done.
    const tessPage = await signedIn(browser, cp, tess);
    await press(tessPage, 'Elevate', 'second pair of eyes on the clone');
    await expect.poll(() => tessPage.locator('[aria-label="Signed in"]').textContent()).toContain('elevated until');
    await openIncident(tessPage);
    for (let i = 0; i < 10; i++) {
      const runNow = (await runsOf())[0]!;
      if (runNow.state !== 'awaiting_approval') break;
      const waiting = runNow.steps.find((s) => s.state === 'awaiting_approval')!;
      await press(tessPage, `Approve ${waiting.stepId}`, `checked: ${waiting.stepId} is right for the clone`);
      await expect.poll(() => rowWith(tessPage, waiting.stepId).textContent()).not.toContain('awaiting_approval');
    }
    const [done] = await runsOf();
    expect(done!.state).toBe('done');
    expect(done!.steps.every((s) => s.state === 'done')).toBe(true);
    expect(done!.steps.filter((s) => s.approval === 'two-person').every((s) => s.decidedBy === 'tess')).toBe(true);
    await expect
      .poll(() => tessPage.getByRole('table', { name: /Run of device-credential-compromise/ }).textContent())
      .toContain('by sam: done');
    await tessPage.screenshot({ path: shot('console-playbook-approved.png'), fullPage: true });

    // The effect is real: the gateway refuses the unit, and its open channel was closed.
    expect(await vehicleAsks(cp, unit)).not.toBe(200);
    await expect.poll(() => first.readyState).toBe(WebSocket.CLOSED);
    const device = await admin(cp, 'GET', `/admin/v1/devices/${unit.credentials!.issued.deviceId}`);
    expect(JSON.stringify(device.json)).toContain('"decommissioned"');

    // Sam resolves the finding: it leaves the open findings.
    await goTo(samPage, 'findings');
    await samPage.reload();
    samPage.once('dialog', (d) => void d.accept('contained by the playbook run'));
    await rowWith(samPage, 'certificate-two-connections').getByRole('button', { name: 'Resolve' }).click();
    await expect
      .poll(async () => {
        const res = await admin(cp, 'GET', `/admin/v1/findings/${findingId}`);
        return (res.json as { finding: { status: string } }).finding.status;
      })
      .toBe('resolved');
    await samPage.context().close();
    await tessPage.context().close();
  });

  it('a viewer sees the incident and its timeline but is offered no triage, run or approval', async () => {
    const vera = await addPerson(cp, 'vera', ['viewer']);
    const page = await signedIn(browser, cp, vera);
    await openIncident(page);
    await expect.poll(() => page.getByLabel('Timeline').textContent()).toContain('asked the workshop');
    for (const name of ['Move', 'Assign to me', 'Add note'])
      expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    await page.getByRole('button', { name: 'Dry run' }).click();
    await expect.poll(() => page.getByRole('table', { name: /Dry run/ }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Run playbook' }).count()).toBe(0);
    // The server decides anyway: the same session asking directly is refused.
    const status = await page.evaluate(async (id) => {
      const res = await fetch(`/admin/v1/incidents/${id}/owner`, {
        method: 'POST',
        headers: { 'x-carapace-console': '1', 'content-type': 'application/json' },
        body: JSON.stringify({ owner: 'vera' }),
      });
      return res.status;
    }, incidentId);
    expect(status).toBe(403);
    await page.screenshot({ path: shot('console-viewer-incident.png'), fullPage: true });
    await page.context().close();
  });
});
