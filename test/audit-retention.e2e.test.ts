import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];
const DAY = 86_400_000;

describe.each(testEngines())('audit retention over the admin plane and the CLI (%s)', (database) => {
  let cp: TestCarapace;
  const clock = new FixedClock(Date.now());

  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      clock,
      overrides: { audit: { checkpointInterval: 3600, retention: { days: 1, interval: 3600 } } },
    });
    (await cp.enrolledDevice('TCU-RET-1')).close();
  });
  afterAll(async () => {
    await cp.stop();
  });

  const admin = async (path: string, method = 'GET', body?: unknown) => {
    const res = await httpsRequest(`${cp.addresses.admin}${path}`, {
      method,
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    return { status: res.status, type: res.headers['content-type'], body: res.json as Record<string, unknown> };
  };

  it('holds and prunes on demand, answers bad input with stable problems, and the CLI verifies the rest', async () => {
    const sealed = (await admin('/admin/v1/audit/checkpoints', 'POST')).body.checkpoint as { treeSize: number };
    clock.advance(2 * DAY);

    const inverted = await admin('/admin/v1/audit/holds', 'POST', { fromSeq: 9, toSeq: 2, reason: 'case 1' });
    expect(inverted).toMatchObject({
      status: 400,
      body: { type: 'urn:carapace:problem:validation', field: 'fromSeq' },
    });
    expect(inverted.type).toContain('application/problem+json');
    const unknown = await admin('/admin/v1/audit/holds/00000000-0000-4000-8000-000000000000/release', 'POST', {
      reason: 'x',
    });
    expect(unknown).toMatchObject({ status: 404, body: { type: 'urn:carapace:problem:not-found' } });

    const hold = await admin('/admin/v1/audit/holds', 'POST', { fromSeq: 1, toSeq: 1, reason: 'case 1' });
    expect(hold).toMatchObject({ status: 201, body: { createdBy: expect.stringContaining('operator:') } });
    expect((await admin('/admin/v1/audit/prune', 'POST', {})).body).toMatchObject({ toLeaf: 0, stoppedBy: 'hold' });
    const holdId = hold.body.id as string;
    expect((await admin(`/admin/v1/audit/holds/${holdId}/release`, 'POST', { reason: 'closed' })).status).toBe(200);
    expect((await admin('/admin/v1/audit/holds')).body.holds).toMatchObject([{ id: holdId, released: {} }]);

    const dry = await admin('/admin/v1/audit/prune', 'POST', { dryRun: true });
    expect(dry.body).toMatchObject({ dryRun: true, fromLeaf: 0, toLeaf: sealed.treeSize });
    expect((await admin('/admin/v1/audit/prune', 'POST', {})).body).toMatchObject({ toLeaf: sealed.treeSize });
    await admin('/admin/v1/audit/checkpoints', 'POST');

    const env: Record<string, string | undefined> = {
      ...process.env,
      CARAPACE_DATA_DIR: cp.config.dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      DATABASE_URL: cp.config.database.url ?? '',
      CARAPACE_DATABASE_SCHEMA: cp.config.database.schema,
      REDIS_URL: '',
    };
    const { stdout } = await run('node', [...CLI, 'audit', 'verify'], { env, timeout: 60_000 });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, horizon: sealed.treeSize, findings: [] });
  }, 90_000);
  it('answers out-of-range seqs, non-ISO times and bad ids with a validation problem, and places no hold', async () => {
    const before = ((await admin('/admin/v1/audit/holds')).body.holds as unknown[]).length;
    const bad: [string, unknown][] = [
      ['/admin/v1/audit/holds', { fromSeq: -1, toSeq: 2, reason: 'x' }],
      ['/admin/v1/audit/holds', { fromSeq: 0, toSeq: 1e20, reason: 'x' }],
      ['/admin/v1/audit/holds', { fromSeq: 0, toSeq: 1.5, reason: 'x' }],
      ['/admin/v1/audit/holds', { fromSeq: '0', toSeq: 2, reason: 'x' }],
      ['/admin/v1/audit/holds', { from: '1', to: '2026-12-01T00:00:00Z', reason: 'x' }],
      ['/admin/v1/audit/holds', { from: '2026-02-30T00:00:00Z', to: '2026-12-01T00:00:00Z', reason: 'x' }],
      ['/admin/v1/audit/holds', { from: '2026-03-01T00:00:00', to: '2026-12-01T00:00:00Z', reason: 'x' }],
      ['/admin/v1/audit/holds', { from: '+010000-01-01T00:00:00Z', to: '+010001-01-01T00:00:00Z', reason: 'x' }],
      ['/admin/v1/audit/holds', { from: '2026-01-01T00:00:00Z', reason: 'x' }],
      ['/admin/v1/audit/holds', { fromSeq: 1, toSeq: 2, reason: '' }],
      ['/admin/v1/audit/holds/not-a-uuid/release', { reason: 'x' }],
      ['/admin/v1/audit/prune', { dryRun: 'yes' }],
      ['/admin/v1/audit/prune', { dryRun: true, horizon: 5 }],
    ];
    for (const [path, body] of bad) {
      const res = await admin(path, 'POST', body);
      expect({ path, body, status: res.status, type: res.body.type }).toMatchObject({
        status: 400,
        type: 'urn:carapace:problem:validation',
      });
      expect(res.type).toContain('application/problem+json');
    }
    expect(((await admin('/admin/v1/audit/holds')).body.holds as unknown[]).length).toBe(before);
  });
});
