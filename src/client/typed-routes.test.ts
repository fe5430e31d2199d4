import { describe, expectTypeOf, it } from 'vitest';
import type { CarapaceClient } from './carapace-client.js';
import type { PublicApiRoutes } from './api-routes.js';
import type { JsonFor, ProblemBody, RouteFor } from './typed-routes.js';

// Checked by `tsc -p tsconfig.check.json` (part of npm test): a wrong type here fails the type check.
type StatusV2 = PublicApiRoutes['GET /v2/vehicles/{vehicleId}/status']['responses'][200];
type StatusV1 = PublicApiRoutes['GET /v1/vehicles/{vehicleId}/status']['responses'][200];
type Api = CarapaceClient['api'];

describe('the typed client: client.api() is typed by the route schemas (src/client/api-routes.ts)', () => {
  it('types a path with an id by its route, and a path off the map as unknown', () => {
    type Path = `/v2/vehicles/${string}/status`;
    expectTypeOf<RouteFor<'GET', Path>>().toEqualTypeOf<'GET /v2/vehicles/{vehicleId}/status'>();
    expectTypeOf<JsonFor<'GET', Path>>().toEqualTypeOf<StatusV2 | ProblemBody | null>();
    expectTypeOf<JsonFor<'GET', `/v1/vehicles/${string}/status`>>().toEqualTypeOf<StatusV1 | ProblemBody | null>();
    // One segment more or less is another route, not this one.
    expectTypeOf<RouteFor<'GET', `/v1/vehicles/${string}`>>().toEqualTypeOf<'GET /v1/vehicles/{vehicleId}'>();
    expectTypeOf<RouteFor<'POST', `/v1/vehicles/${string}/status`>>().toBeNever();
    expectTypeOf<JsonFor<'GET', string>>().toBeUnknown();
    expectTypeOf<JsonFor<'GET', '/v1/vehicles?limit=5'>>().toEqualTypeOf<
      PublicApiRoutes['GET /v1/vehicles']['responses'][200] | ProblemBody | null
    >();
  });

  it('infers the route at the call site from a template literal', () => {
    const call = (api: Api, id: string) => api('GET', `/v2/vehicles/${id}/status`);
    expectTypeOf(call).returns.resolves.toHaveProperty('json');
    expectTypeOf<Awaited<ReturnType<typeof call>>['json']>().toEqualTypeOf<StatusV2 | ProblemBody | null>();
    expectTypeOf<StatusV2['vehicle']['id']>().toBeString();
    // v1 has no `vehicle` field: reading it does not type-check.
    // @ts-expect-error -- StatusV1 has vehicleId, not vehicle
    expectTypeOf<StatusV1['vehicle']>().toBeObject();
  });
});
