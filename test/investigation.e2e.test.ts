import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import canonicalize from 'canonicalize';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient, ServiceSession } from '../src/client/index.js';
import { seedFromFile } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';
import { verifyInclusion } from './merkle-verifier.js';
import { signerFor, wire } from './telemetry-support.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];
const SCENARIO = join(import.meta.dirname, 'investigation.scenario.yaml');
const VINS = ['1HGCM82633A000001', '1HGCM82633A000002', '1HGCM82633A000003', '1HGCM82633A000004'];
const unhex = (h: string) => Buffer.from(h, 'hex');

interface Answer {
  truncated: boolean;
  truncation: string[];
  vehicles: { vehicleId: string; vin: string | null; outcome: string; evidence: string[]; known: boolean }[];
  requests: { requestId: string }[];
  nodes: {
    users: string[];
    clients: string[];
    tokens: string[];
    certificates: { serials: string[]; thumbprints: string[] };
  };
  commands: { jobId: string; vehicleId: string; command: string; state: string }[];
  decisions: { decision: string; policyVersion: string | null }[];
  events: Record<string, unknown>[];
  proofs: { inclusion: ProofBody[]; unsealed: string[] } | null;
  notRecorded: string[];
}
interface ProofBody {
  eventId: string;
  leafIndex: number;
  canonicalEvent: string;
  leafHash: string;
  auditPath: string[];
  checkpoint: { treeSize: number; rootHash: string };
}

describe.each(testEngines())('investigation from any pivot (%s)', (database) => {
  let cp: TestCarapace;
  const v: string[] = []; // v[0..3]: Olga's cars by VIN; v[4]: the compromised unit's vehicle
  let stolenJti = '';
  let lockJob = '';

  const admin = async (query: string) => {
    const res = await httpsRequest(`${cp.addresses.admin}/admin/v1/investigations?${query}`, {
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
    });
    return { status: res.status, body: res.json as Answer & { code?: string; reason?: string } };
  };
  const investigate = async (query: string) => {
    const r = await admin(query);
    expect(r.status).toBe(200);
    return r.body;
  };
  const affected = (a: Answer) => a.vehicles.map((x) => x.vehicleId).sort();
  const ids = (...i: number[]) => i.map((n) => v[n]!).sort();

  const signIn = async () => {
    const c = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await c.login({
      email: 'olga@example.com',
      password: 'demo-olga-password',
      scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
    });
    return c;
  };

  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { audit: { checkpointInterval: 3600 } } });
    await seedFromFile(cp.platform, SCENARIO);
    const rows = await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute();
    for (const vin of VINS) v.push(rows.find((r) => r.vin === vin)!.id);

    // The owner's own session touches only v4; the stolen one reads v1-v3 and locks v2.
    const owner = await signIn();
    const stolen = await signIn();
    stolenJti = (
      JSON.parse(Buffer.from(stolen.tokens!.accessToken.split('.')[1]!, 'base64url').toString()) as { jti: string }
    ).jti;
    expect((await owner.api('GET', `/v1/vehicles/${v[3]}/status`)).status).toBe(200);
    for (const id of v.slice(0, 3)) expect((await stolen.api('GET', `/v1/vehicles/${id}/status`)).status).toBe(200);
    const lock = await stolen.api(
      'POST',
      `/v1/vehicles/${v[1]}/commands`,
      { command: 'lock' },
      { 'idempotency-key': 'inv-lock' },
    );
    // Olga's cars have no unit: the job is made and rejected, an outcome the investigation must show.
    expect(lock.json).toMatchObject({ status: 409, reason: 'no_active_device' });
    lockJob = (lock.json as { job: string }).job;

    // The partner is consented on v4 only, and tries v3 as well.
    const privateJwk = JSON.parse(
      readFileSync(join(cp.config.dataDir, 'demo', 'probe-partner.private.jwk.json'), 'utf8'),
    ) as JWK;
    const partner = await ServiceSession.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'probe-partner',
      privateJwk,
      scope: 'vehicle:read_status',
    });
    expect((await partner.api('GET', `/v1/vehicles/${v[3]}/status`)).status).toBe(200);
    expect((await partner.api('GET', `/v1/vehicles/${v[2]}/status`)).status).toBe(404);

    // A compromised unit on a fifth vehicle: one good message, one forged.
    const unit = await cp.enrolledDevice('TCU-INV-5');
    const signer = signerFor(unit);
    const good = await signer.sign({ kind: 'gear', gear: 'P' });
    const forged = await signer.sign({ kind: 'gear', gear: 'D' });
    await unit.sendTelemetry([wire(good), { signed: forged.signed.replace('"D"', '"N"'), sig: forged.sig }]);
    v.push(unit.credentials!.issued.vehicleId);
    unit.close();

    const sealed = await httpsRequest(`${cp.addresses.admin}/admin/v1/audit/checkpoints`, {
      method: 'POST',
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
    });
    expect(sealed.status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('a stolen token: its jti finds exactly the three cars it touched, its command, proofs that verify', async () => {
    const a = await investigate(`pivot=jti&value=${stolenJti}&proofs=true`);
    expect(affected(a)).toEqual(ids(0, 1, 2));
    expect(a.truncated).toBe(false);
    expect(a.vehicles.every((x) => x.known && x.outcome === 'acted' && VINS.includes(x.vin!))).toBe(true);
    expect(a.commands.map((c) => [c.jobId, c.vehicleId, c.command, c.state])).toEqual([
      [lockJob, v[1], 'lock', 'rejected'],
    ]);
    expect(a.nodes.tokens).toContain(stolenJti);
    expect(a.decisions.length).toBeGreaterThanOrEqual(4);
    expect(a.decisions.every((d) => d.policyVersion)).toBe(true);
    expect(a.notRecorded.length).toBeGreaterThan(0);

    // Every evidence event has a proof, checked by the independent verifier against the event the answer shows.
    const evidence = new Set(a.vehicles.flatMap((x) => x.evidence));
    expect(a.proofs!.unsealed).toEqual([]);
    expect(new Set(a.proofs!.inclusion.map((p) => p.eventId))).toEqual(evidence);
    const shown = new Map(a.events.map((e) => [e.id as string, e]));
    for (const p of a.proofs!.inclusion) {
      expect(p.canonicalEvent).toBe(canonicalize(shown.get(p.eventId)));
      const leaf = createHash('sha256').update(Buffer.of(0)).update(p.canonicalEvent).digest();
      expect(leaf.toString('hex')).toBe(p.leafHash);
      const path = p.auditPath.map(unhex);
      expect(verifyInclusion(leaf, p.leafIndex, p.checkpoint.treeSize, path, unhex(p.checkpoint.rootHash))).toBe(true);
    }
  });

  it('the owner, one request, a VIN and a job each find their own vehicles and no other', async () => {
    const stolen = await investigate(`pivot=jti&value=${stolenJti}`);
    const user = stolen.nodes.users[0]!;
    expect(affected(await investigate(`pivot=user&value=${user}`))).toEqual(ids(0, 1, 2, 3));
    // Each API call the token made touched one vehicle; the token's own issuing request (audited with its request
    // id as auth.token.issued) touched none.
    const perRequest: string[][] = [];
    for (const r of stolen.requests) perRequest.push(affected(await investigate(`pivot=request&value=${r.requestId}`)));
    expect(perRequest.every((one) => one.length <= 1)).toBe(true);
    expect(new Set(perRequest.flat())).toEqual(new Set(ids(0, 1, 2)));
    expect(affected(await investigate(`pivot=vin&value=${VINS[1]}`))).toEqual(ids(1));
    expect(affected(await investigate(`pivot=job&value=${lockJob}`))).toEqual(ids(1));
    // Following the token from a request widens to everything that token did, and still not to v4 or v5.
    const widened = await investigate(`pivot=request&value=${stolen.requests[0]!.requestId}&follow=request,jti`);
    expect(affected(widened)).toEqual(ids(0, 1, 2));
  });

  it('a partner over-reaching: its consented car acted on, the attempt on another counted as denied', async () => {
    for (const pivot of ['partner', 'client']) {
      const a = await investigate(`pivot=${pivot}&value=probe-partner`);
      expect(a.vehicles.map((x) => [x.vehicleId, x.outcome]).sort()).toEqual(
        [
          [v[2], 'denied'],
          [v[3], 'acted'],
        ].sort(),
      );
    }
  });

  it('a compromised unit: its id, serial and thumbprint find only its vehicle, with its telemetry', async () => {
    const device = (await cp.platform.audit.list({ type: 'pki.device.enrolled', limit: 1 }))[0]!;
    const a = await investigate(`pivot=device&value=${device.actor.id}`);
    expect(affected(a)).toEqual([v[4]]);
    const t = (a.vehicles[0] as unknown as { telemetry: Record<string, unknown> }).telemetry;
    expect(t).toMatchObject({ accepted: 1, rejected: 1, software: { swVersion: '4.2.0', configId: 'cfg-1' } });
    const serial = device.details.serial as string;
    const thumbprint = device.details.thumbprint as string;
    expect(affected(await investigate(`pivot=serial&value=${serial}`))).toEqual([v[4]]);
    expect(affected(await investigate(`pivot=thumbprint&value=${encodeURIComponent(thumbprint)}`))).toEqual([v[4]]);
  });

  it('says when a bound cut the answer short, and refuses bad input with stable problems', async () => {
    const cut = await investigate(`pivot=jti&value=${stolenJti}&maxEvents=2`);
    expect(cut.truncated).toBe(true);
    expect(cut.truncation.join(' ')).toMatch(/maxEvents/);
    const none = await investigate('pivot=vin&value=1HGCM82633A999999');
    expect([none.vehicles, none.truncated]).toEqual([[], false]);
    const old = await investigate(`pivot=jti&value=${stolenJti}&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z`);
    expect(old.vehicles).toEqual([]);

    expect(await admin('pivot=password&value=x')).toMatchObject({ status: 400, body: { code: 'ERR_VALIDATION' } });
    expect(await admin('pivot=jti&value=x&extra=1')).toMatchObject({ status: 400, body: { code: 'ERR_VALIDATION' } });
    const inverted = await admin('pivot=jti&value=x&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect(inverted).toMatchObject({ status: 400, body: { code: 'ERR_VALIDATION', reason: 'inverted_window' } });
    const long = await admin('pivot=jti&value=x&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect(long).toMatchObject({ status: 400, body: { reason: 'window_too_long' } });
    expect(await admin('pivot=jti&value=x&from=yesterday')).toMatchObject({
      status: 400,
      body: { reason: 'invalid_time' },
    });
    expect(await admin('pivot=jti&value=x&follow=user')).toMatchObject({ status: 400 });
    const anonymous = await httpsRequest(`${cp.addresses.admin}/admin/v1/investigations?pivot=jti&value=x`, {
      ca: cp.ca,
    });
    expect(anonymous.status).toBe(401);
  });

  it('carapace investigate prints the affected vehicles by VIN for the stolen token', async () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      CARAPACE_DATA_DIR: cp.config.dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      DATABASE_URL: cp.config.database.url ?? '',
      CARAPACE_DATABASE_SCHEMA: cp.config.database.schema,
      REDIS_URL: '',
    };
    const { stdout } = await run('node', [...CLI, 'investigate', '--jti', stolenJti], { env, timeout: 60_000 });
    expect(stdout).toMatch(/affected vehicles \(3\):/);
    for (const vin of VINS.slice(0, 3)) expect(stdout).toContain(vin);
    expect(stdout).not.toContain(VINS[3]);
    expect(stdout).toContain('complete: no bound was reached');
  });
});
