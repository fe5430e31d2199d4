import { execFile } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import canonicalize from 'canonicalize';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';
import { verifyConsistency, verifyInclusion } from './merkle-verifier.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];
const unhex = (h: string) => Buffer.from(h, 'hex');

interface Checkpoint {
  treeSize: number;
  rootHash: string;
  signedAt: string;
  keyId: string;
  signature: string;
}

describe.each(testEngines())('audit evidence over the admin plane (%s)', (database) => {
  let cp: TestCarapace;

  beforeAll(async () => {
    // The periodic sealer stays out of the way: the test makes every checkpoint itself.
    cp = await startTestCarapace({ database, overrides: { audit: { checkpointInterval: 3600 } } });
    (await cp.enrolledDevice('TCU-EVID-1')).close();
  });
  afterAll(async () => {
    await cp.stop();
  });

  const admin = async (path: string, method = 'GET') => {
    const res = await httpsRequest(`${cp.addresses.admin}${path}`, {
      method,
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
    });
    return { status: res.status, body: res.json as Record<string, unknown> };
  };

  /** The verifier's own reading of the public key and signature: canonical JSON, Node's Ed25519. */
  const signatureHolds = (c: Checkpoint, pem: string) => {
    const { signature, ...body } = c;
    const signed = canonicalize({ origin: 'carapace-audit-checkpoint/v1', ...body }) ?? '';
    return verify(null, Buffer.from(signed), createPublicKey(pem), Buffer.from(signature, 'base64url'));
  };

  const cli = async (...args: string[]) => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      CARAPACE_DATA_DIR: cp.config.dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      DATABASE_URL: cp.config.database.url ?? '',
      CARAPACE_DATABASE_SCHEMA: cp.config.database.schema,
      REDIS_URL: '',
    };
    try {
      const { stdout } = await run('node', [...CLI, ...args], { env, timeout: 60_000 });
      return { code: 0, out: JSON.parse(stdout) as Record<string, unknown> };
    } catch (err) {
      const e = err as { stdout: string; code: number };
      return { code: e.code, out: JSON.parse(e.stdout) as Record<string, unknown> };
    }
  };

  it('signs checkpoints on demand, exports them, and proves inclusion and consistency to an outside verifier', async () => {
    const made = await admin('/admin/v1/audit/checkpoints', 'POST');
    expect(made.status).toBe(201);
    const first = made.body.checkpoint as Checkpoint;
    const latest = await admin('/admin/v1/audit/checkpoints/latest');
    expect(latest.body.checkpoint).toEqual(first);
    const publicKey = latest.body.publicKey as { keyId: string; pem: string };
    expect(signatureHolds(first, publicKey.pem)).toBe(true);

    // Each event exactly as the admin API serves it is a leaf of the signed tree.
    const listed = (await admin('/admin/v1/audit-events?limit=20')).body.events as { id: string }[];
    expect(listed.length).toBeGreaterThan(3);
    for (const event of listed) {
      const proof = (await admin(`/admin/v1/audit/events/${event.id}/inclusion`)).body;
      const leaf = createHash('sha256')
        .update(Buffer.of(0))
        .update(canonicalize(event) ?? '')
        .digest();
      expect(proof.leafHash).toBe(leaf.toString('hex'));
      const path = (proof.auditPath as string[]).map(unhex);
      expect(verifyInclusion(leaf, proof.leafIndex as number, first.treeSize, path, unhex(first.rootHash))).toBe(true);
    }

    (await cp.enrolledDevice('TCU-EVID-2')).close();
    const second = (await admin('/admin/v1/audit/checkpoints', 'POST')).body.checkpoint as Checkpoint;
    expect(second.treeSize).toBeGreaterThan(first.treeSize);
    const c = (await admin(`/admin/v1/audit/consistency?first=${first.treeSize}`)).body;
    expect(c.second).toEqual(second);
    const proof = (c.proof as string[]).map(unhex);
    expect(
      verifyConsistency(first.treeSize, second.treeSize, unhex(first.rootHash), unhex(second.rootHash), proof),
    ).toBe(true);

    const exported = readFileSync(join(cp.config.dataDir, 'audit', 'checkpoints.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Checkpoint);
    expect(exported).toEqual([first, second]);

    // A consumer tails the sealed trail by leaf index and ends exactly at the latest tree size.
    const tail = (await admin(`/admin/v1/audit/tail?after=${first.treeSize - 1}&limit=1000`)).body;
    expect(tail.cursor).toBe(second.treeSize - 1);
    expect((tail.events as unknown[]).length).toBe(second.treeSize - first.treeSize);
  });

  it('answers problems for what it cannot prove', async () => {
    const unknown = await admin('/admin/v1/audit/events/00000000-0000-4000-8000-000000000000/inclusion');
    expect(unknown.status).toBe(404);
    const reversed = await admin('/admin/v1/audit/consistency?first=99999999');
    expect(reversed.status).toBe(404);
    // An event written after the last checkpoint has no proof yet: a stable problem, not a 500.
    await cp.platform.audit.append(cp.platform.storage.db, {
      type: 'admin.request.refused',
      actor: { type: 'anonymous' },
      action: 'test',
      decision: 'deny',
    });
    const fresh = (await cp.platform.audit.list({ limit: 1 }))[0]!;
    const unsealed = await admin(`/admin/v1/audit/events/${fresh.id}/inclusion`);
    expect(unsealed).toMatchObject({ status: 409, body: { code: 'ERR_AUDIT_NOT_SEALED' } });
    const noProofWithoutOperator = await httpsRequest(`${cp.addresses.admin}/admin/v1/audit/checkpoints/latest`, {
      ca: cp.ca,
    });
    expect(noProofWithoutOperator.status).toBe(401);
  });

  it('carapace audit verify passes on the live trail and names the event a DBA changed', async () => {
    // The CLI signs with the same key, from the same key provider, as the running server.
    const signed = await cli('audit', 'checkpoint');
    expect(signed.code).toBe(0);
    expect(signed.out).toMatchObject({
      keyId: ((await admin('/admin/v1/audit/checkpoints/latest')).body.publicKey as { keyId: string }).keyId,
    });
    const clean = await cli('audit', 'verify');
    expect(clean.code).toBe(0);
    expect(clean.out).toMatchObject({ ok: true, findings: [] });

    const db = cp.platform.storage.db;
    const pg = database === 'postgres';
    await sql
      .raw(pg ? 'drop trigger audit_events_no_change on audit_events' : 'drop trigger audit_events_no_update')
      .execute(db);
    const victim = await db
      .selectFrom('audit_leaves')
      .select('event_seq')
      .where('leaf_index', '=', 2)
      .executeTakeFirstOrThrow();
    await sql`update audit_events set reason = 'nothing to see' where seq = ${victim.event_seq}`.execute(db);
    const caught = await cli('audit', 'verify');
    expect(caught.code).toBe(1);
    expect(caught.out.first).toMatchObject({ kind: 'changed', seq: victim.event_seq, leafIndex: 2 });
  }, 120_000); // three CLI processes, each loading the platform through tsx
});
