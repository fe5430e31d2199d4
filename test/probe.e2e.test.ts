import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_CHECKS, type ProbeReport, runProbe, type ProbeTarget } from '../src/probe/index.js';
import { readScenario } from '../src/server/index.js';
import { freePort, startTestCarapace, type TestCarapace } from '../src/testing/index.js';

const exec = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];

/** Runs `carapace probe` as a pipeline would, with the flags a staging deployment needs. */
async function probeCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DATABASE_URL: '', REDIS_URL: '' };
  try {
    const { stdout, stderr } = await exec('node', [...CLI, 'probe', ...args], { env, timeout: 110_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The flags naming one test deployment: its listeners, CA, partner keys and operator files. */
function targetFlags(cp: TestCarapace, dir: string): string[] {
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, cp.ca);
  const cert = join(dir, 'operator-cert.pem');
  const key = join(dir, 'operator-key.pem');
  writeFileSync(cert, cp.operatorTls.cert);
  writeFileSync(key, cp.operatorTls.key);
  return [
    '--target',
    cp.config.publicBaseUrl,
    '--ca',
    ca,
    '--partner-keys',
    join(cp.config.dataDir, 'demo'),
    '--gateway-url',
    cp.addresses.gateway,
    '--admin-url',
    cp.addresses.admin,
    '--operator-cert',
    cert,
    '--operator-key',
    key,
  ];
}

const targetOf = (cp: TestCarapace): ProbeTarget => ({
  baseUrl: cp.config.publicBaseUrl,
  ca: cp.ca,
  scenario: readScenario('scenarios/demo.yaml'),
  partnerKeysDir: join(cp.config.dataDir, 'demo'),
});

/** A demo deployment whose policy directory is the shipped one with `edit` applied to one file. */
async function brokenBuild(file: string, edit: (text: string) => string): Promise<{ cp: TestCarapace; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'carapace-probe-policies-'));
  cpSync('policies', dir, { recursive: true });
  const before = readFileSync(join(dir, file), 'utf8');
  const after = edit(before);
  // The break must have happened, or the test would pass against a correct build.
  expect(after).not.toBe(before);
  writeFileSync(join(dir, file), after);
  const cp = await startTestCarapace({
    database: 'sqlite',
    overrides: { seedDemo: true, detect: { enabled: false }, policy: { dir } },
  });
  return { cp, dir };
}

describe('carapace probe against a correct build', () => {
  let cp: TestCarapace;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'carapace-probe-'));
    cp = await startTestCarapace({ database: 'sqlite', overrides: { seedDemo: true, detect: { enabled: false } } });
  });
  afterAll(async () => {
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs every attack class with no finding and exits 0, printing JSON for CI', async () => {
    const file = join(dir, 'probe.json');
    const run = await probeCli([...targetFlags(cp, dir), '--json', '--report', file]);
    expect(run.stderr).not.toContain('FINDING');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ProbeReport;
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(report);
    expect(report.checks.map((c) => c.check)).toEqual([...PROBE_CHECKS]);
    for (const c of report.checks) expect(c.attacks, c.check).toBeGreaterThan(0);
    expect(report.checks.flatMap((c) => c.findings)).toEqual([]);
    expect(report.checks.flatMap((c) => c.skipped)).toEqual([]);
    // Every route of the inventory (three listeners) was crawled, not only the public document.
    const crawl = report.checks.find((c) => c.check === 'crawl');
    expect(crawl?.attacks).toBeGreaterThan(100);
    expect(report.summary.attacks).toBeGreaterThan(3000);
  });

  it('exits 2 when the target does not answer, or the scenario is missing', async () => {
    const ca = join(dir, 'ca-only.pem');
    writeFileSync(ca, cp.ca);
    const down = await probeCli(['--target', `https://127.0.0.1:${await freePort()}`, '--ca', ca]);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('cannot run');
    const noScenario = await probeCli([...targetFlags(cp, dir), '--scenario', join(dir, 'missing.yaml')]);
    expect(noScenario.code).toBe(2);
    expect(noScenario.stderr).toContain('missing.yaml does not exist');
  });
});

describe('carapace probe against a build whose operator permit lost its group condition', () => {
  let broken: { cp: TestCarapace; dir: string };
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'carapace-probe-'));
    // A plausible mistake: a fleet operator reaches every vehicle of the fleet, not only their groups'.
    broken = await brokenBuild('fleets.cedar', (t) =>
      t.replace(
        'principal.roles.fleet_operator.contains(resource.fleet) &&\n  resource in principal.fleetGroups',
        'principal.roles.fleet_operator.contains(resource.fleet)',
      ),
    );
  });
  afterAll(async () => {
    await broken?.cp.stop();
    rmSync(broken?.dir ?? '', { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports bola findings for the operator on the vehicle outside their group, and exits 1', async () => {
    const run = await probeCli([...targetFlags(broken.cp, dir), '--only', 'bola', '--json']);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as ProbeReport;
    const findings = report.checks.flatMap((c) => c.findings);
    expect(findings.length).toBeGreaterThan(0);
    expect(
      findings.every((f) => f.check === 'bola' && f.persona === 'oscar' && f.request.endsWith('(northwind-van-2)')),
    ).toBe(true);
    // The plain read of the vehicle is among them, not only its sub-resources.
    expect(findings.some((f) => /^GET \/v1\/vehicles\/[0-9a-f-]{36} \(/.test(f.request))).toBe(true);
  });
});

describe('carapace probe against a build whose step-up guardrail is neutralized', () => {
  let broken: { cp: TestCarapace; dir: string };
  beforeAll(async () => {
    broken = await brokenBuild('guardrails.cedar', (t) =>
      t.replace('when { context has stepUp && context.stepUp }', 'when { false }'),
    );
  });
  afterAll(async () => {
    await broken?.cp.stop();
    rmSync(broken?.dir ?? '', { recursive: true, force: true });
  });

  it('reports a business-flow finding for each password-only unlock that got through', async () => {
    const report = await runProbe({ target: targetOf(broken.cp), only: ['business-flow'] });
    const findings = report.checks.flatMap((c) => c.findings);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.check === 'business-flow' && f.attack.includes('password-only'))).toBe(true);
    expect(findings.find((f) => f.persona === 'dana')).toMatchObject({
      attack: 'unlock by a password-only sign-in',
      observed: '400 ERR_VALIDATION',
    });
    // The invitation attacks ran too and held: the guardrail is the only thing broken.
    expect(report.checks[0]?.attacks).toBeGreaterThan(findings.length);
  });
});
