import { Type } from '@sinclair/typebox';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/index.js';
import { createListenerApp } from '../http/index.js';
import { systemClock } from '../platform/index.js';
import { createLogger } from '../platform/index.js';
import { openStorage } from '../storage/index.js';
import {
  createDecisionPoint,
  createEntityLoader,
  installAuthorization,
  loadPolicySet,
  NoQuery,
  schemaActions,
} from './index.js';
import { apiRoute, load } from './route-kit.js';

describe('the authorization hook makes the check impossible to forget', async () => {
  const storage = await openStorage({
    url: null,
    schema: 'public',
    dataDir: mkdtempSync(join(tmpdir(), 'carapace-hook-')),
  });
  afterAll(async () => storage.close());
  const set = loadPolicySet();
  const app = () => {
    const { app: a } = createListenerApp({ tls: { requestCert: false }, logger: createLogger('silent') });
    installAuthorization(a, {
      decisions: createDecisionPoint(set),
      load: createEntityLoader({ db: storage.db, clock: systemClock }),
      audit: createAuditLog({ db: storage.db, clock: systemClock }),
      db: storage.db,
      actions: schemaActions(set),
    });
    return a;
  };
  const route = (action: string, withAuthorize = true) => {
    const config = apiRoute({ owner: 't', purpose: 'p', action, scopes: [], authorize: { resource: load.vehicle() } });
    return withAuthorize ? config : { token: config.token, catalog: config.catalog };
  };
  const Ok = { 200: Type.Object({}) };

  it('refuses a token route without an authorize spec', () => {
    expect(() =>
      app().get(
        '/v1/x/:vehicleId',
        { config: route('vehicle:read', false), schema: { querystring: NoQuery, response: Ok } },
        async () => ({}),
      ),
    ).toThrow(/declares no authorize spec/);
  });

  it('refuses an action the Cedar schema does not declare', () => {
    expect(() =>
      app().get(
        '/v1/x/:vehicleId',
        { config: route('vehicle:teleport'), schema: { querystring: NoQuery, response: Ok } },
        async () => ({}),
      ),
    ).toThrow(/Cedar schema does not declare/);
  });

  it('refuses open query strings and missing response schemas', () => {
    expect(() =>
      app().get('/v1/x/:vehicleId', { config: route('vehicle:read'), schema: { response: Ok } }, async () => ({})),
    ).toThrow(/closed querystring/);
    expect(() =>
      app().get(
        '/v1/x/:vehicleId',
        { config: route('vehicle:read'), schema: { querystring: NoQuery } },
        async () => ({}),
      ),
    ).toThrow(/success response schema/);
  });

  it('accepts a route that declares all of it', () => {
    expect(() =>
      app().get(
        '/v1/x/:vehicleId',
        { config: route('vehicle:read'), schema: { querystring: NoQuery, response: Ok } },
        async () => ({}),
      ),
    ).not.toThrow();
  });
});
