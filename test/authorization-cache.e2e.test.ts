import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient, type ClientResponse, ServiceSession } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario, type RunningCarapace } from '../src/server/index.js';
import { startPeer, startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { APP_FOR_ROLE } from '../src/authz-matrix/index.js';

const scenario = readScenario('scenarios/demo.yaml');
const REDIS_URL = process.env.REDIS_URL ?? '';
type Caller = { api(method: string, path: string, body?: unknown): Promise<ClientResponse> };

/**
 * An agent that opens each connection to whichever node `route.port` names, while requests keep the shared public
 * URL (its Host, and the `htu` of every DPoP proof): how a load balancer in front of two nodes looks to a client.
 */
class NodeRouter extends https.Agent {
  port = 0;
  /** Connections opened per port: proof that a request meant for node B went to node B. */
  readonly opened = new Map<number, number>();
  constructor() {
    super({ keepAlive: false });
  }
  override createConnection(options: https.RequestOptions, cb?: (err: Error | null, s: Duplex) => void): Duplex {
    this.opened.set(this.port, (this.opened.get(this.port) ?? 0) + 1);
    const make = https.Agent.prototype.createConnection as (o: https.RequestOptions, c?: unknown) => Duplex;
    return make.call(this, { ...options, port: this.port }, cb);
  }
}

describe.each(testEngines())('the entity cache across two nodes (%s)', (database) => {
  let a: TestCarapace;
  let b: RunningCarapace;
  const router = new NodeRouter();
  const who = new Map<string, Caller>();
  const vehicles = new Map<string, string>();
  const portOf = (url: string) => Number(new URL(url).port);
  const onA = () => (router.port = portOf(a.addresses.public));
  const onB = () => (router.port = portOf(b.addresses.public));
  const vid = (key: string) => vehicles.get(key) as string;

  /** Signs a persona (or a partner application) in once, on node A. */
  const as = async (key: string): Promise<Caller> => {
    const cached = who.get(key);
    if (cached) return cached;
    onA();
    const base = { baseUrl: a.config.publicBaseUrl, ca: a.ca, agent: router };
    const app = scenario.applications?.find((x) => x.clientId === key);
    if (app) {
      const file = join(a.config.dataDir, 'demo', `${key}.private.jwk.json`);
      const privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
      const s = await ServiceSession.create({ ...base, clientId: key, privateJwk, scope: app.scopes.join(' ') });
      who.set(key, s);
      return s;
    }
    const u = scenario.users.find((x) => x.key === key);
    if (!u) throw new Error(`no persona ${key}`);
    const clientId = APP_FOR_ROLE[u.memberships[0]?.role ?? 'owner'] as string;
    const scopes = (scenario.applications?.find((x) => x.clientId === clientId)?.scopes ?? []).filter(
      (s) => s !== 'offline_access',
    );
    const c = await CarapaceClient.create({ ...base, clientId, redirectUri: 'http://127.0.0.1/callback' });
    const totp = u.totp;
    await c.login({
      email: u.email,
      password: u.password,
      scopes,
      ...(totp ? { totp: () => currentTotp(totp, new Date()) } : {}),
    });
    who.set(key, c);
    return c;
  };
  const statusOf = async (key: string, vehicle: string) => (await (await as(key)).api('GET', vehicle)).status;
  const relationshipId = async (kind: 'delegation' | 'partner_grant', vehicle: string) =>
    (
      await a.platform.storage.db
        .selectFrom('relationships')
        .select('id')
        .where('kind', '=', kind)
        .where('vehicle_id', '=', vid(vehicle))
        .where('ended_at', 'is', null)
        .executeTakeFirstOrThrow()
    ).id;

  beforeAll(async () => {
    // SQLite nodes without Redis: what keeps them consistent is the database's change counter alone. PostgreSQL
    // nodes run as a cluster does, with Redis when REDIS_URL is set (the counter still decides, not a message).
    const redis =
      database === 'postgres' && REDIS_URL ? { url: REDIS_URL, keyPrefix: `carapace-ec-${process.pid}:` } : {};
    a = await startTestCarapace({ database, overrides: { seedDemo: true, redis: { url: null, ...redis } } });
    b = await startPeer(a);
    const rows = await a.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute();
    for (const v of scenario.vehicles ?? []) vehicles.set(v.key, rows.find((r) => r.vin === v.vin)?.id as string);
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await a?.stop();
    router.destroy();
  });

  it('a delegation revoked on node A is refused on the very next request on node B', async () => {
    const status = `/v1/vehicles/${vid('alice-car')}/status`;
    await as('dana');
    onB();
    // Twice on B: the second answer comes from B's cache, which the revocation must not outlive.
    expect([await statusOf('dana', status), await statusOf('dana', status)]).toEqual([200, 200]);
    const id = await relationshipId('delegation', 'alice-car');
    onA();
    const revoked = await (await as('alice')).api('POST', `/v1/delegations/${id}/revoke`, { reason: 'trip over' });
    expect(revoked.status).toBe(200);
    onB();
    const before = router.opened.get(router.port) ?? 0;
    expect(await statusOf('dana', status)).toBe(404);
    expect(router.opened.get(portOf(b.addresses.public))).toBe(before + 1);
  });

  it('a partner grant ended on node A is refused on the very next request on node B', async () => {
    const status = `/v1/vehicles/${vid('alice-car')}/status`;
    await as('insights-readonly');
    onB();
    expect([await statusOf('insights-readonly', status), await statusOf('insights-readonly', status)]).toEqual([
      200, 200,
    ]);
    const id = await relationshipId('partner_grant', 'alice-car');
    onA();
    const ended = await (await as('alice')).api('POST', `/v1/partner-grants/${id}/revoke`, { reason: 'no more' });
    expect(ended.status).toBe(200);
    onB();
    expect(await statusOf('insights-readonly', status)).toBe(404);
  });

  it('a transfer on node A ends the seller and their partner on node B at the next request', async () => {
    const car = `/v1/vehicles/${vid('bob-car')}`;
    await Promise.all([as('bob'), as('chargenet-charging'), as('frank')]);
    onB();
    expect([await statusOf('bob', car), await statusOf('chargenet-charging', `${car}/status`)]).toEqual([200, 200]);
    expect(await statusOf('frank', car)).toBe(404);
    onA();
    const moved = await (await as('bob')).api('POST', `${car}/transfer`, { toEmail: 'frank@example.com' });
    expect(moved.status).toBe(200);
    onB();
    expect(await statusOf('bob', car)).toBe(404);
    expect(await statusOf('chargenet-charging', `${car}/status`)).toBe(404);
    expect(await statusOf('frank', car)).toBe(200);
  });

  it("the cache never serves one tenant's vehicle to another: a warm entry answers like a missing one", async () => {
    const car = `/v1/vehicles/${vid('alice-car')}`;
    await Promise.all([as('alice'), as('carl')]);
    onB();
    expect(await statusOf('alice', car)).toBe(200);
    const carl = await as('carl');
    const hidden = await carl.api('GET', car);
    const missing = await carl.api('GET', `/v1/vehicles/${crypto.randomUUID()}`);
    const strip = (r: ClientResponse) => ({ ...(r.json as object), instance: undefined });
    expect(hidden.status).toBe(404);
    expect(strip(hidden)).toEqual(strip(missing));
  });

  it('a read answers only once its decision record is stored, and answers 500 when it cannot be', async () => {
    const car = `/v1/vehicles/${vid('alice-car')}`;
    const alice = await as('alice');
    onB();
    const read = await alice.api('GET', car);
    expect(read.status).toBe(200);
    const requestId = String(read.headers['x-request-id'] ?? '');
    const recorded = await a.platform.storage.db
      .selectFrom('audit_events')
      .select(['decision', 'request_id'])
      .where('type', '=', 'authz.decision')
      .where('object_id', '=', vid('alice-car'))
      .where('request_id', '=', requestId)
      .execute();
    expect(requestId).not.toBe('');
    expect(recorded).toEqual([{ decision: 'allow', request_id: requestId }]);
    // The database refuses this vehicle's decision records: the read must fail rather than answer unrecorded.
    const db = a.platform.storage.db;
    const pg = database === 'postgres';
    if (pg) {
      await sql`CREATE FUNCTION refuse_decision() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused'; END $$`.execute(db);
      await sql
        .raw(
          `CREATE TRIGGER refuse_decision BEFORE INSERT ON audit_events FOR EACH ROW
        WHEN (NEW.object_id = '${vid('alice-car')}') EXECUTE FUNCTION refuse_decision()`,
        )
        .execute(db);
    } else
      await sql
        .raw(
          `CREATE TRIGGER refuse_decision BEFORE INSERT ON audit_events
        WHEN NEW.object_id = '${vid('alice-car')}' BEGIN SELECT RAISE(ABORT, 'refused'); END`,
        )
        .execute(db);
    try {
      const refused = await alice.api('GET', car);
      expect(refused.status).toBe(500);
      expect(refused.text).not.toContain(vid('alice-car'));
    } finally {
      await sql`DROP TRIGGER refuse_decision ${pg ? sql`ON audit_events` : sql``}`.execute(db);
    }
    expect((await alice.api('GET', car)).status).toBe(200);
  });
});
