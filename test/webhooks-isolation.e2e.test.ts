import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace } from '../src/testing/index.js';
import {
  type Caller,
  connectedCar,
  lockAndSettle,
  type Receiver,
  receiverPki,
  signIn,
  startReceiver,
  until,
} from './webhooks-support.js';

const HANGING = 100;
const BUDGET = 6;

// SQLite only: what is shown is the worker budget and the command path beside it, not an engine property.
describe('webhook isolation: 100 hanging endpoints beside the command path', () => {
  let cp: TestCarapace;
  let receiver: Receiver;
  let car: Awaited<ReturnType<typeof connectedCar>>;
  let alice: Caller;

  beforeAll(async () => {
    const pki = await receiverPki();
    receiver = await startReceiver(pki);
    receiver.answer = (p) => (p.startsWith('/hang/') ? 'hang' : 200);
    cp = await startTestCarapace({
      database: 'sqlite',
      outbound: pki.injection,
      overrides: {
        seedDemo: true,
        detect: { enabled: false },
        audit: { checkpointInterval: 1 },
        webhooks: {
          interval: 0.05,
          concurrency: BUDGET,
          timeout: 20,
          leaseTtl: 30,
          maxSubscriptionsPerTenant: HANGING,
        },
      },
    });
    car = await connectedCar(cp);
    alice = await signIn(cp, 'alice', 'carapace-owner-app', ['vehicle:lock', 'vehicle:read_status']);
  }, 180_000);
  afterAll(async () => {
    car?.close();
    await receiver?.close();
    await cp?.stop();
  });

  it('commands confirm while every delivery hangs; never more than the budget in flight', async () => {
    const insights = await signIn(cp, 'insights-readonly', '', ['vehicle:read_status']);
    const tenant = (
      await cp.platform.storage.db
        .selectFrom('applications')
        .select('tenant_id')
        .where('client_id', '=', 'insights-readonly')
        .executeTakeFirstOrThrow()
    ).tenant_id;
    for (let i = 0; i < HANGING; i++) {
      const r = await insights.api('POST', `/v1/tenants/${tenant}/webhooks`, {
        url: receiver.url(`/hang/${i}`),
        eventTypes: ['command.job.state_changed'],
      });
      expect(r.status).toBe(201);
    }
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await lockAndSettle(alice, car.carId, `iso-${i}`));
    expect(outcomes.map((o) => o.state)).toEqual(['confirmed', 'confirmed', 'confirmed', 'confirmed']);
    // The worker is saturated by hanging endpoints, and holds exactly its budget, no more.
    const busy = await until('the worker at its budget', () => {
      const s = cp.platform.webhooks.status();
      return s.inFlight === BUDGET ? s : null;
    });
    expect(busy.peakInFlight).toBe(BUDGET);
    const queued = await cp.platform.storage.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('state', '=', 'pending')
      .executeTakeFirstOrThrow();
    expect(Number(queued.n)).toBeGreaterThan(BUDGET);
    // The API answers while they hang.
    expect((await alice.api('GET', `/v1/vehicles/${car.carId}`)).status).toBe(200);
    expect(cp.platform.webhooks.status().peakInFlight).toBe(BUDGET);
  });
});
