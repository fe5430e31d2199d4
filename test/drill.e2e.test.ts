import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DRILLS,
  type DrilledPlaybook,
  type DrillReport,
  type DrillTarget,
  runDrill,
  seedDrill,
} from '../src/drill/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];

/**
 * Issue 13 item 7: each drill stages its attack against a running server, the shipped rules detect it, the incident
 * opens from the finding, the playbook contains it (the stolen credential is refused), and the incident is scoped.
 * Times are reported, not asserted (tests assert correctness, never wall-clock time).
 */
describe.each(testEngines())('incident drills against a running deployment (%s)', (database) => {
  let cp: TestCarapace;
  let target: DrillTarget;
  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true, detect: { interval: 0.1 } } });
    target = {
      nodes: [{ name: 'node-1', ...urls(cp) }],
      publicBaseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      operator: cp.operatorTls,
      dataDir: cp.config.dataDir,
    };
  }, 120_000);
  afterAll(async () => cp?.stop());

  const drill = (playbook: DrilledPlaybook) => runDrill(target, playbook, (ids) => seedDrill(cp.platform, ids));

  const contained = (r: DrillReport) => {
    expect(r.detect).not.toBeNull();
    expect(r.incident?.opened).toBe('automatically');
    for (const c of r.contain) {
      expect(c.refusedBeforeDecision).toBe(false);
      expect(c.ms).not.toBeNull();
    }
    expect(r.scope?.vehicles).toBeGreaterThan(0);
    expect(r.steps.filter((s) => s.state === 'failed')).toEqual([]);
  };

  it('device credential compromise: a cloned channel is detected, the unit revoked, the car scoped', async () => {
    const r = await drill('device-credential-compromise');
    contained(r);
    expect(r.detect?.ruleId).toBe('certificate-two-connections');
  }, 120_000);

  it('account takeover: the owner token replayed from another network is detected and refused', async () => {
    const r = await drill('account-takeover');
    contained(r);
    expect(r.detect?.ruleId).toBe('token-new-network');
  }, 120_000);

  it('partner compromise: a partner scraping locations is detected, suspended and its reach scoped', async () => {
    const r = await drill('partner-compromise');
    contained(r);
    expect(r.detect?.ruleId).toBe('partner-location-scraping');
    expect(r.scope?.vehicles).toBe(3);
  }, 120_000);

  it('telemetry forgery: forged signatures detected before the quarantine threshold, unit contained', async () => {
    const r = await drill('telemetry-forgery');
    contained(r);
    expect(r.detect?.ruleId).toBe('telemetry-forged-signatures');
  }, 120_000);

  it('the CLI drill runs against the server and leaves a report; an unknown playbook is refused', async () => {
    const env = {
      ...process.env,
      CARAPACE_DATA_DIR: cp.config.dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      DATABASE_URL: cp.config.database.url ?? '',
      CARAPACE_DATABASE_SCHEMA: cp.config.database.schema,
      CARAPACE_PUBLIC_BASE_URL: cp.config.publicBaseUrl,
      REDIS_URL: '',
    };
    const node = Object.values(urls(cp)).join(',');
    const args = [...CLI, 'incidents', 'drill', 'account-takeover', '--node', node, '--json'];
    const out = await run('node', args, { env, timeout: 90_000 }).catch((e: { stdout: string }) => e);
    const report = JSON.parse(out.stdout) as DrillReport;
    expect(report.contain[0]?.ms).not.toBeNull();
    expect(existsSync(join(cp.config.dataDir, 'drills', `${report.runId}-account-takeover.json`))).toBe(true);
    const kept = JSON.parse(
      readFileSync(join(cp.config.dataDir, 'drills', `${report.runId}-account-takeover.json`), 'utf8'),
    ) as DrillReport;
    expect(kept.runId).toBe(report.runId);
    const bad = await run('node', [...CLI, 'incidents', 'drill', 'no-such-playbook', '--node', node], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((bad as { code: number }).code).not.toBe(0);
    expect((bad as { stderr: string }).stderr).toContain(Object.keys(DRILLS).join(', '));
  }, 120_000);
});

function urls(cp: TestCarapace) {
  return { publicUrl: cp.addresses.public, gatewayUrl: cp.addresses.gateway, adminUrl: cp.addresses.admin };
}
