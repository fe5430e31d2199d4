import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];
const DATABASE_URL = process.env.DATABASE_URL ?? '';
const REDIS_URL = process.env.REDIS_URL ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A real `carapace serve` process. */
async function serve(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn('node', [...CLI, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Carapace is running.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  return child;
}

interface EngineBody {
  leaseHeld: boolean;
  evaluated: number;
  discarded: number;
  lagEvents: number;
  cursor: { high: number; gaps: number } | null;
}

describe.runIf(DATABASE_URL && REDIS_URL)('detection in cluster mode: two processes, PostgreSQL and Redis', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-detect-cluster-'));
  const schema = `detc_${process.pid}_${Date.now().toString(36)}`;
  const children: ChildProcess[] = [];
  const db = new pg.Client({ connectionString: DATABASE_URL });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await db.end().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('evaluates each event exactly once across the nodes, and kill -9 of the lease holder loses none', async () => {
    const [pubA, gwA, admA] = [await freePort(), await freePort(), await freePort()];
    const [pubB, gwB, admB] = [await freePort(), await freePort(), await freePort()];
    const base = {
      ...process.env,
      CARAPACE_DATA_DIR: dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      CARAPACE_SEED_DEMO: 'false',
      DATABASE_URL,
      CARAPACE_DATABASE_SCHEMA: schema,
      REDIS_URL,
      CARAPACE_REDIS_KEY_PREFIX: `detc-${randomUUID().slice(0, 8)}:`,
      CARAPACE_DETECT_INTERVAL: '0.1',
      CARAPACE_DETECT_LEASE_TTL: '2',
      CARAPACE_DETECT_GAP_SETTLE: '3',
      CARAPACE_PUBLIC_BASE_URL: `https://localhost:${pubA}`,
      CARAPACE_PUBLIC_HOST: '127.0.0.1',
      CARAPACE_GATEWAY_HOST: '127.0.0.1',
      CARAPACE_ADMIN_HOST: '127.0.0.1',
    };
    const ports = (pub: number, gw: number, adm: number) => ({
      CARAPACE_PUBLIC_PORT: String(pub),
      CARAPACE_GATEWAY_PORT: String(gw),
      CARAPACE_ADMIN_PORT: String(adm),
    });
    const a = await serve({ ...base, ...ports(pubA, gwA, admA) });
    children.push(a);
    const b = await serve({ ...base, ...ports(pubB, gwB, admB) });
    children.push(b);
    await db.connect();
    const ca = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
    const cert = readFileSync(join(dataDir, 'pki', 'operator', 'admin-cert.pem'), 'utf8');
    const key = readFileSync(join(dataDir, 'pki', 'operator', 'admin-key.pem'), 'utf8');
    const admins = { a: `https://127.0.0.1:${admA}`, b: `https://127.0.0.1:${admB}` };
    const engine = async (node: 'a' | 'b') =>
      (await httpsRequest(`${admins[node]}/admin/v1/detections`, { ca, cert, key })).json as { engine: EngineBody };
    // A request without an operator certificate is refused and audited on the node it reached: the event stream.
    const refusal = async (node: 'a' | 'b') =>
      expect((await httpsRequest(`${admins[node]}/admin/v1/findings`, { ca })).status).toBe(401);
    const maxSeq = async () =>
      Number((await db.query(`SELECT max(seq) AS m FROM "${schema}".audit_events`)).rows[0].m as string);
    /** Waits until the lease holder among `nodes` has read everything committed, without gaps. */
    const drained = async (nodes: Array<'a' | 'b'>) => {
      for (let i = 0; i < 300; i++) {
        const states = await Promise.all(nodes.map(engine));
        const holder = states.find((s) => s.engine.leaseHeld)?.engine;
        if (holder?.cursor && holder.cursor.gaps === 0 && holder.cursor.high === (await maxSeq())) {
          await sleep(500);
          const again = (await Promise.all(nodes.map(engine))).find((s) => s.engine.leaseHeld)?.engine;
          if (again?.cursor?.high === (await maxSeq())) return;
        }
        await sleep(100);
      }
      throw new Error('the engine did not catch up');
    };

    // Phase 1: events written on both nodes; the two nodes' evaluation counts add up to the trail, exactly.
    for (let i = 0; i < 10; i++) {
      await refusal('a');
      await refusal('b');
    }
    await drained(['a', 'b']);
    const [ea, eb] = [(await engine('a')).engine, (await engine('b')).engine];
    const committed = Number((await db.query(`SELECT count(*) AS n FROM "${schema}".audit_events`)).rows[0].n);
    expect(ea.evaluated + eb.evaluated).toBe(committed);
    expect([ea.leaseHeld, eb.leaseHeld].filter(Boolean)).toHaveLength(1);

    // Phase 2: a stream on the other node; the holder is killed with SIGKILL in the middle of it.
    const holder = ea.leaseHeld ? 'a' : 'b';
    const survivor = holder === 'a' ? 'b' : 'a';
    for (let i = 0; i < 30; i++) {
      if (i === 10) (holder === 'a' ? a : b).kill('SIGKILL');
      await refusal(survivor);
      await sleep(30);
    }
    await drained([survivor]);
    expect((await engine(survivor)).engine.leaseHeld).toBe(true);

    const refused = await db.query(
      `SELECT id FROM "${schema}".audit_events WHERE type = 'admin.request.refused' ORDER BY seq`,
    );
    expect(refused.rows).toHaveLength(50);
    // The rule these refusals make fire; the other shipped rules may read the same events for their own findings.
    const findings = await db.query(
      `SELECT id, count FROM "${schema}".detect_findings WHERE rule_id = 'sample-refused-requests'`,
    );
    expect(findings.rows).toHaveLength(1);
    // And no rule raised two findings for one group: a repeat updates the finding on whichever node evaluates it.
    const twice = await db.query(
      `SELECT rule_id, group_key FROM "${schema}".detect_findings GROUP BY rule_id, group_key HAVING count(*) > 1`,
    );
    expect(twice.rows).toEqual([]);
    const evidence = await db.query(`SELECT event_id FROM "${schema}".detect_finding_events WHERE finding_id = $1`, [
      findings.rows[0].id,
    ]);
    // None lost: every refusal is evidence. Exactly once: the rule fired once per event from the fifth on.
    expect(evidence.rows.map((r: { event_id: string }) => r.event_id).sort()).toEqual(
      refused.rows.map((r: { id: string }) => r.id).sort(),
    );
    expect(Number(findings.rows[0].count)).toBe(50 - 4);
  }, 180_000);
});
