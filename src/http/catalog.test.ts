import { describe, expect, it } from 'vitest';
import { createLogger } from '../platform/index.js';
import { createListenerApp } from './app.js';
import { MissingCatalogEntryError } from './catalog.js';

describe('route catalog', () => {
  const tls = { requestCert: false };

  it('makes a route without a catalog entry fail at registration, so startup fails', () => {
    const { app } = createListenerApp({ tls, logger: createLogger('silent') });
    expect(() => app.get('/v1/uncatalogued', async () => ({}))).toThrow(MissingCatalogEntryError);
    expect(() => app.head('/v1/head-only', async () => ({}))).toThrow(MissingCatalogEntryError);
  });

  it('records every cataloged route for the inventory', () => {
    const { app, routes } = createListenerApp({ tls, logger: createLogger('silent') });
    app.get(
      '/v1/x',
      {
        config: {
          catalog: {
            owner: 't',
            purpose: 'p',
            callers: ['device'],
            action: 'x:read',
            classification: 'internal',
            scopes: [],
            safetyImpact: 'none',
            status: 'beta',
          },
        },
      },
      async () => ({}),
    );
    expect(routes).toEqual([
      expect.objectContaining({ method: 'GET', url: '/v1/x', entry: expect.objectContaining({ action: 'x:read' }) }),
    ]);
  });
});
