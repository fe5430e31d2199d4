import { randomInt } from 'node:crypto';
import type { ClientResponse } from '../client/index.js';
import { type CheckReport, Tally } from './report.js';
import { observed, type ProbeSession } from './session.js';

/** How many tries the probe spends on one limit before calling it missing (the documented defaults are 3 and 10). */
const BUDGET = 25;

/**
 * Documented abuse limits answer 429 with Retry-After: a dealer's service requests for one VIN
 * (`serviceCases.requestsPerVin`) and a person's failed vehicle claims (`claims.*`). Both use invented VINs, so
 * they lock nothing real; the persona's claims stay limited for the window (an hour by default).
 */
export async function rateLimit(s: ProbeSession): Promise<CheckReport> {
  const t = new Tally('rate-limit');
  const invented = () => `PRB${String(randomInt(10 ** 13, 10 ** 14 - 1))}`;
  const dealer = [...s.world.personas.values()].find((p) => p.roles.some((r) => r.role === 'dealer_technician'));
  const dealerTenant = dealer?.roles.find((r) => r.role === 'dealer_technician')?.tenant;
  const tenantId = dealerTenant ? s.ids.tenants.get(dealerTenant) : undefined;
  if (dealer && tenantId) {
    const vin = invented();
    const path = `/v1/dealers/${tenantId}/service-cases`;
    await until429(t, `service requests for one VIN`, dealer.key, `POST ${path}`, () =>
      s.caller(dealer.key).api('POST', path, { vin, reason: 'probe: rate limit' }),
    );
  } else t.skip('service-request limit: no dealer technician in the scenario');
  const claimants = [...s.world.personas.values()].filter(
    (p) => p.kind === 'person' && p.scopes.includes('vehicle:claim'),
  );
  // The last claimant: the enumeration check spent one claim of the first.
  const claimant = claimants.at(-1);
  if (claimant)
    await until429(t, 'failed vehicle claims by one account', claimant.key, 'POST /v1/vehicle-claims', () =>
      s.caller(claimant.key).api('POST', '/v1/vehicle-claims', { vin: invented(), code: 'ZZZZZZZZZZZZZZZZZZZZ' }),
    );
  else t.skip('claim limit: no persona with vehicle:claim');
  return t.report();
}

async function until429(
  t: Tally,
  attack: string,
  persona: string,
  request: string,
  send: () => Promise<ClientResponse>,
) {
  let last: ClientResponse | null = null;
  for (let i = 0; i < BUDGET; i++) {
    last = await send();
    if (last.status === 429 || last.status >= 500) break;
  }
  const retryAfter = Number(last?.headers['retry-after']);
  const held = last?.status === 429 && Number.isFinite(retryAfter) && retryAfter > 0;
  t.record(held, {
    attack: `${attack}: a limit answers 429 with Retry-After within ${BUDGET} tries`,
    persona,
    request,
    expected: '429 with Retry-After',
    observed: last
      ? `${observed(last)}${last.status === 429 ? ` Retry-After: ${String(last.headers['retry-after'])}` : ''}`
      : 'nothing',
  });
}
