import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/index.js';
import { API_AUDIENCE, tokenAuthentication, TokenRefusal, type TokenVerifier } from '../auth/index.js';
import { systemClock } from '../platform/index.js';
import { createLogger } from '../platform/index.js';
import {
  type AuthorizeSpec,
  apiRoute,
  createDecisionPoint,
  createEntityLoader,
  load,
  loadPolicySet,
  NoQuery,
  objectAuthorization,
  schemaActions,
} from '../policy/index.js';
import { openStorage } from '../storage/index.js';
import { createAuthorizationFacts } from '../server/index.js';
import { createListenerApp } from './app.js';
import { type CatalogEntry, MissingCatalogEntryError, RawRouteError } from './catalog.js';
import { createRegistrar, RouteDefinitionError, type RouteRegistrar } from './route-definition.js';

describe('the route definition refuses unsafe route shapes at startup', async () => {
  const storage = await openStorage({
    url: null,
    schema: 'public',
    dataDir: mkdtempSync(join(tmpdir(), 'carapace-rd-')),
  });
  afterAll(async () => storage.close());
  const set = loadPolicySet();
  const audit = createAuditLog({ db: storage.db, clock: systemClock });
  // Every token is refused: enough to show which routes ask for one.
  const verify: TokenVerifier = async () => {
    throw new TokenRefusal('no_token', null);
  };

  /** A public-API listener as the server builds it: token verification and object authorization. */
  const publicApi = () => {
    const listener = createListenerApp({ tls: { requestCert: false }, logger: createLogger('silent') });
    const routes = createRegistrar<AuthorizeSpec>(listener.app, {
      token: tokenAuthentication(listener.app, { verify, audit, db: storage.db, baseUrl: () => 'https://x' }),
      authorize: objectAuthorization(listener.app, {
        decisions: createDecisionPoint(set),
        load: createEntityLoader({ facts: createAuthorizationFacts(storage.db), clock: systemClock }),
        audit,
        db: storage.db,
        actions: schemaActions(set),
        freshness: { clock: systemClock, stepUpMaxAge: 300 },
      }),
    });
    return { ...listener, routes };
  };
  const entry = (e: Partial<CatalogEntry> = {}): CatalogEntry => ({
    owner: 't',
    purpose: 'p',
    callers: ['user'],
    action: 'vehicle:read',
    classification: 'internal',
    scopes: [],
    safetyImpact: 'none',
    status: 'beta',
    ...e,
  });
  const Ok = { 200: Type.Object({ ok: Type.Boolean() }, { additionalProperties: false }) };
  const vehicleRoute = (action = 'vehicle:read') =>
    apiRoute({ owner: 't', purpose: 'p', action, scopes: [], authorize: { resource: load.vehicle() } });
  const register = (routes: RouteRegistrar<AuthorizeSpec>, decl: Parameters<RouteRegistrar<AuthorizeSpec>['get']>[1]) =>
    routes.get('/v1/x/:vehicleId', decl, async () => ({ ok: true }));

  it('refuses a raw registration on the listener, and a route without a catalog entry', () => {
    const { app } = publicApi();
    expect(() => app.get('/v1/raw', { config: { catalog: entry() } }, async () => ({}))).toThrow(RawRouteError);
    expect(() => app.get('/v1/uncatalogued', async () => ({}))).toThrow(MissingCatalogEntryError);
    expect(() => app.head('/v1/head-only', async () => ({}))).toThrow(MissingCatalogEntryError);
  });

  it('refuses user callers on a route that does not authenticate', () => {
    const { routes } = publicApi();
    expect(() => register(routes, { auth: { kind: 'anonymous' }, catalog: entry(), schema: { response: Ok } })).toThrow(
      /not anonymous but does not authenticate/,
    );
  });

  it('refuses catalog caller kinds the authentication cannot establish', () => {
    const { routes } = publicApi();
    const decl = vehicleRoute();
    expect(() =>
      register(routes, {
        ...decl,
        catalog: { ...decl.catalog, callers: ['device'] },
        schema: { querystring: NoQuery, response: Ok },
      }),
    ).toThrow(/callers device that token authentication cannot establish/);
    expect(() =>
      register(routes, {
        ...decl,
        catalog: { ...decl.catalog, callers: ['user', 'anonymous'] },
        schema: { querystring: NoQuery, response: Ok },
      }),
    ).toThrow(/lists anonymous callers/);
  });

  it("refuses oauth-protocol outside the authorization server's mount and on a listener without one", () => {
    const { routes } = publicApi();
    const decl = { auth: { kind: 'oauth-protocol' as const }, catalog: entry(), schema: { response: Ok } };
    // This listener has no authorization server at all.
    expect(() => routes.get('/oauth/token', decl, async () => ({ ok: true }))).toThrow(/without the authorization/);
    const listener = createListenerApp({ tls: { requestCert: false }, logger: createLogger('silent') });
    const mounted = createRegistrar<AuthorizeSpec>(listener.app, { oauthProtocol: { prefix: '/oauth' } });
    expect(() => mounted.get('/v1/vehicles/:id/location', decl, async () => ({ ok: true }))).toThrow(
      /outside the authorization server's mount/,
    );
    expect(() => mounted.get('/oauthx/token', decl, async () => ({ ok: true }))).toThrow(/outside/);
    expect(() => mounted.get('/oauth/token', decl, async () => ({ ok: true }))).not.toThrow();
  });

  it('refuses a device route on a listener without device authentication', () => {
    const { routes } = publicApi();
    expect(() =>
      register(routes, { auth: { kind: 'device' }, catalog: entry({ callers: ['device'] }), schema: { response: Ok } }),
    ).toThrow(/without device authentication/);
  });

  it('refuses a token route without an authorize spec, or with an action Cedar does not declare', () => {
    const { routes } = publicApi();
    const { authorize: _dropped, ...withoutAuthorize } = vehicleRoute();
    expect(() => register(routes, { ...withoutAuthorize, schema: { querystring: NoQuery, response: Ok } })).toThrow(
      /declares no authorize spec/,
    );
    expect(() =>
      register(routes, { ...vehicleRoute('vehicle:teleport'), schema: { querystring: NoQuery, response: Ok } }),
    ).toThrow(/Cedar schema does not declare/);
    expect(() => register(routes, { ...vehicleRoute(), schema: { response: Ok } })).toThrow(/closed querystring/);
  });

  it('refuses response schemas that are not closed', () => {
    const { routes } = publicApi();
    const bad: [string, Record<string, unknown>][] = [
      ['Type.Any', { 200: Type.Any() }],
      ['Type.Unknown', { 200: Type.Unknown() }],
      ['an open top-level object', { 200: Type.Object({ ok: Type.Boolean() }) }],
      ['a nested Type.Unknown', { 200: Type.Object({ x: Type.Unknown() }, { additionalProperties: false }) }],
      ['additionalProperties: true', { 200: Type.Object({}, { additionalProperties: true }) }],
      ['no 2xx', { 404: Type.Object({}, { additionalProperties: false }) }],
      ['an open default', { 200: Ok[200], default: Type.Object({}, { additionalProperties: true }) }],
      ['a status range', { '2xx': Type.Object({}, { additionalProperties: false }) }],
      ['an open error body', { ...Ok, 409: Type.Object({ ok: Type.Boolean() }) }],
      ['a non-JSON body that is not a string', { 200: { content: { 'text/html': { schema: Type.Any() } } } }],
    ];
    for (const [why, response] of bad) {
      expect(() => register(routes, { ...vehicleRoute(), schema: { querystring: NoQuery, response } }), why).toThrow(
        RouteDefinitionError,
      );
    }
  });

  it('accepts a route that declares all of it, and closed non-JSON bodies', () => {
    const { routes } = publicApi();
    expect(() => register(routes, { ...vehicleRoute(), schema: { querystring: NoQuery, response: Ok } })).not.toThrow();
    expect(() =>
      routes.get(
        '/pem',
        {
          auth: { kind: 'anonymous' },
          catalog: entry({ callers: ['anonymous'], action: 'pki:read_ca' }),
          schema: { response: { 200: { content: { 'application/x-pem-file': { schema: Type.String() } } } } },
        },
        async () => 'PEM',
      ),
    ).not.toThrow();
  });

  it('answers 500, never the body, when a handler sends a success status its route does not declare', async () => {
    const { app, routes } = publicApi();
    routes.post(
      '/v1/created-only',
      {
        auth: { kind: 'anonymous' },
        catalog: entry({ callers: ['anonymous'] }),
        schema: { response: { 201: Type.Object({ id: Type.String() }, { additionalProperties: false }) } },
      },
      // Forgets reply.code(201): the implicit 200 has no schema, so Fastify would send every field.
      async () => ({ id: 'x', passwordHash: 'secret-hash' }),
    );
    await app.ready();
    const res = await app.inject({ method: 'POST', url: '/v1/created-only' });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('secret-hash');
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    await app.close();
  });

  it('authenticates a token route from its own declaration, whatever the registration order', async () => {
    // The route is the first thing on the listener: no hook installed later can be what protects it.
    const listener = createListenerApp({ tls: { requestCert: false }, logger: createLogger('silent') });
    const token = tokenAuthentication(listener.app, { verify, audit, db: storage.db, baseUrl: () => 'https://x' });
    const authorize = objectAuthorization(listener.app, {
      decisions: createDecisionPoint(set),
      load: createEntityLoader({ facts: createAuthorizationFacts(storage.db), clock: systemClock }),
      audit,
      db: storage.db,
      actions: schemaActions(set),
      freshness: { clock: systemClock, stepUpMaxAge: 300 },
    });
    const routes = createRegistrar<AuthorizeSpec>(listener.app, { token, authorize });
    let ran = false;
    routes.get('/v1/x/:vehicleId', { ...vehicleRoute(), schema: { querystring: NoQuery, response: Ok } }, async () => {
      ran = true;
      return { ok: true };
    });
    const res = await listener.app.inject({ method: 'GET', url: '/v1/x/00000000-0000-4000-8000-000000000000' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect(ran).toBe(false);
    expect(listener.routes.map((r) => `${r.method} ${r.url}`)).toContain('GET /v1/x/:vehicleId');
    expect(API_AUDIENCE).toBe(vehicleRoute().auth.token.audience);
    await listener.app.close();
  });
});
