import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DETECTIONS_DIR, RuleFileError } from '../src/detect/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';

const REDIS_URL = process.env.REDIS_URL ?? '';
const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FindingBody {
  id: string;
  ruleId: string;
  ruleVersion: number;
  status: string;
  count: number;
  evidence: string[];
  assets: Record<string, string[]>;
  summary: string;
}

describe.each(testEngines())('detections end to end (%s)', (database) => {
  let cp: TestCarapace;
  const admin = async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await httpsRequest(`${cp.addresses.admin}${path}`, {
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
      method: init.method,
      headers: init.body ? { 'content-type': 'application/json' } : undefined,
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    return { status: res.status, body: res.json as Record<string, unknown> };
  };

  beforeAll(async () => {
    // On PostgreSQL the cluster parts are real too: window state in Redis, lease through Redis.
    const redis = database === 'postgres' && REDIS_URL ? { url: REDIS_URL, keyPrefix: `det-${randomUUID()}:` } : {};
    cp = await startTestCarapace({ database, overrides: { redis, detect: { interval: 0.1 } } });
  }, 60_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('raises a finding from real refused requests, with evidence, proofs and an audited resolve', async () => {
    const started = Date.now();
    for (let i = 0; i < 6; i++) {
      const res = await httpsRequest(`${cp.addresses.public}/v1/me`, {
        ca: cp.ca,
        headers: { authorization: 'Bearer not-a-token' },
      });
      expect(res.status).toBe(401);
    }
    let finding: FindingBody | undefined;
    for (let i = 0; i < 100 && !finding; i++) {
      const list = await admin('/admin/v1/findings?rule=sample-refused-requests&status=open');
      // All six refusals are evidence once the engine has read the sixth (the fifth raised the finding).
      finding = (list.body.findings as FindingBody[]).find((f) => f.evidence.length === 6);
      if (!finding) await sleep(50);
    }
    const detectedMs = Date.now() - started;
    expect(finding).toMatchObject({ ruleId: 'sample-refused-requests', ruleVersion: 2, status: 'open' });
    expect(finding!.assets.networks).toEqual(['127.0.0.0/24']);
    expect(finding!.evidence).toHaveLength(6);
    console.warn(`[detections ${database}] refused requests to finding: ${detectedMs} ms`);

    // The evidence is the real audit events; proofs come once they are sealed.
    const unsealed = await admin(`/admin/v1/findings/${finding!.id}?proofs=true`);
    expect(unsealed.status).toBe(200);
    const events = unsealed.body.events as Array<{ id: string; type: string; decision: string }>;
    expect(events.map((e) => e.id).sort()).toEqual([...finding!.evidence].sort());
    expect(events.every((e) => e.type === 'auth.token.refused' && e.decision === 'deny')).toBe(true);
    expect((await admin('/admin/v1/audit/checkpoints', { method: 'POST' })).status).toBe(201);
    const sealed = await admin(`/admin/v1/findings/${finding!.id}?proofs=true`);
    const proofs = sealed.body.proofs as { inclusion: Array<{ eventId: string }>; unsealed: string[] };
    expect(proofs.inclusion.map((p) => p.eventId).sort()).toEqual([...finding!.evidence].sort());
    expect(proofs.unsealed).toEqual([]);

    const resolved = await admin(`/admin/v1/findings/${finding!.id}/status`, {
      method: 'POST',
      body: { status: 'resolved', reason: 'a misconfigured test client' },
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body.finding).toMatchObject({ status: 'resolved' });
    const audited = await cp.platform.audit.list({ type: 'detect.finding.resolved' });
    expect(audited[0]).toMatchObject({
      actor: { type: 'operator' },
      object: { type: 'finding', id: finding!.id },
      details: { ruleId: 'sample-refused-requests', ruleVersion: 2, severity: 'low', status: 'resolved' },
    });
    const raised = await cp.platform.audit.list({ type: 'detect.finding.raised' });
    expect(raised[0]?.details).toMatchObject({ findingId: finding!.id, networks: ['127.0.0.0/24'] });
  });

  // Defined on SQLite only: the CLI is the same client of the admin API on either engine.
  if (database === 'sqlite')
    it('answers the CLI over the admin API: findings list, show, suppress; detections list', async () => {
      const cli = async (...args: string[]) =>
        (
          await run('node', [...CLI, ...args, '--admin-url', cp.addresses.admin], {
            env: { ...process.env, CARAPACE_DATA_DIR: cp.config.dataDir, DATABASE_URL: '', REDIS_URL: '' },
          })
        ).stdout;
      const page = JSON.parse(await cli('findings', 'list', '--rule', 'sample-refused-requests', '--json')) as {
        findings: FindingBody[];
      };
      const id = page.findings[0]!.id;
      expect(await cli('findings', 'list')).toContain(`${id} low`);
      expect(await cli('findings', 'show', id, '--proofs')).toMatch(/networks: 127\.0\.0\.0\/24/);
      expect(await cli('findings', 'suppress', id, '--reason', 'known test client')).toContain(`${id} suppressed`);
      expect(await cli('detections', 'list')).toMatch(/sample-refused-requests v2 threshold low/);
      await expect(cli('findings', 'show', randomUUID())).rejects.toThrow(/no such finding/);
    });

  it('lists the rules and the engine state, and refuses bad input and unknown findings', async () => {
    const d = await admin('/admin/v1/detections');
    expect(d.status).toBe(200);
    const rules = d.body.rules as Array<{ id: string; effective: Record<string, unknown> }>;
    expect(rules.find((r) => r.id === 'sample-refused-requests')?.effective).toMatchObject({ threshold: 5 });
    expect(d.body.engine).toMatchObject({ enabled: true, leaseHeld: true, lastError: null });
    expect((d.body.engine as { evaluated: number }).evaluated).toBeGreaterThan(0);
    const ready = await admin('/readyz');
    expect((ready.body.details as Record<string, Record<string, unknown>>).detect).toMatchObject({ leaseHeld: true });

    expect((await admin(`/admin/v1/findings/${randomUUID()}`)).status).toBe(404);
    expect((await admin('/admin/v1/findings?severity=severe')).status).toBe(400);
    const bad = await admin(`/admin/v1/findings/${randomUUID()}/status`, {
      method: 'POST',
      body: { status: 'open', reason: 'x' },
    });
    expect(bad.status).toBe(400);
    // Without an operator certificate the admin plane refuses.
    const anonymous = await httpsRequest(`${cp.addresses.admin}/admin/v1/findings`, { ca: cp.ca });
    expect(anonymous.status).toBe(401);
  });
});

describe('detect.enabled: false', () => {
  it('starts without the engine: nothing is evaluated, the admin API says so', async () => {
    const cp = await startTestCarapace({
      database: 'sqlite',
      overrides: { detect: { enabled: false, interval: 0.05 } },
    });
    try {
      for (let i = 0; i < 6; i++)
        await httpsRequest(`${cp.addresses.public}/v1/me`, { ca: cp.ca, headers: { authorization: 'Bearer x' } });
      await sleep(500);
      const tls = { ca: cp.ca, cert: cp.operatorTls.cert, key: cp.operatorTls.key };
      const d = (await httpsRequest(`${cp.addresses.admin}/admin/v1/detections`, tls)).json as {
        engine: { enabled: boolean; evaluated: number; leaseHeld: boolean };
      };
      expect(d.engine).toMatchObject({ enabled: false, evaluated: 0, leaseHeld: false });
      const list = (await httpsRequest(`${cp.addresses.admin}/admin/v1/findings`, tls)).json as { findings: unknown[] };
      expect(list.findings).toEqual([]);
    } finally {
      await cp.stop();
    }
  });
});

describe('a bad rule file refuses the start', () => {
  const dirWith = (edit: (r: Record<string, unknown>) => void) => {
    const dir = mkdtempSync(join(tmpdir(), 'carapace-bad-rules-'));
    const r = JSON.parse(readFileSync(join(DEFAULT_DETECTIONS_DIR, 'sample-refused-requests.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    edit(r);
    writeFileSync(join(dir, 'sample-refused-requests.json'), JSON.stringify(r));
    return dir;
  };

  it('names the file and the field', async () => {
    const dir = dirWith((r) => ((r.evaluate as Record<string, unknown>).treshold = 5));
    const start = startTestCarapace({ database: 'sqlite', overrides: { detect: { dir } } });
    await expect(start).rejects.toBeInstanceOf(RuleFileError);
    await expect(start).rejects.toThrow(/sample-refused-requests\.json: evaluate/);
  });

  it('refuses an override of an unknown rule or parameter', async () => {
    await expect(
      startTestCarapace({ database: 'sqlite', overrides: { detect: { overrides: { 'no-such-rule': {} } } } }),
    ).rejects.toThrow(/no-such-rule names no loaded rule/);
    await expect(
      startTestCarapace({
        database: 'sqlite',
        overrides: { detect: { overrides: { 'sample-refused-requests': { field: 'x' } } } },
      }),
    ).rejects.toThrow(/sample-refused-requests\.field is not an overridable parameter/);
  });
});
