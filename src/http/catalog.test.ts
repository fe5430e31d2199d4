import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../platform/index.js';
import { createListenerApp } from './app.js';
import { type CatalogEntry, MissingCatalogEntryError, RawRouteError } from './catalog.js';
import { createRegistrar } from './route-definition.js';

describe('route catalog', () => {
  const tls = { requestCert: false };
  const entry: CatalogEntry = {
    owner: 't',
    purpose: 'p',
    callers: ['anonymous'],
    action: 'x:read',
    classification: 'internal',
    scopes: [],
    safetyImpact: 'none',
    status: 'beta',
  };

  it('makes a raw or uncatalogued route fail at registration, so startup fails', () => {
    const { app } = createListenerApp({ tls, logger: createLogger('silent') });
    expect(() => app.get('/v1/uncatalogued', async () => ({}))).toThrow(MissingCatalogEntryError);
    expect(() => app.head('/v1/head-only', async () => ({}))).toThrow(MissingCatalogEntryError);
    expect(() => app.get('/v1/raw', { config: { catalog: entry } }, async () => ({}))).toThrow(RawRouteError);
  });

  it('records every declared route for the inventory, once per method', () => {
    const { app, routes } = createListenerApp({ tls, logger: createLogger('silent') });
    createRegistrar(app, {}).get(
      '/v1/x',
      {
        auth: { kind: 'anonymous' },
        catalog: entry,
        schema: { response: { 200: Type.Object({}, { additionalProperties: false }) } },
      },
      async () => ({}),
    );
    expect(routes).toEqual([
      expect.objectContaining({ method: 'GET', url: '/v1/x', entry: expect.objectContaining({ action: 'x:read' }) }),
    ]);
  });
});
