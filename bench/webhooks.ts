/**
 * Webhook isolation benchmark: command latency (request -> confirmed, p50 and p95) of `lock` on a connected demo
 * car, first with no webhook endpoints (the baseline), then with BENCH_HANGING (100) partner endpoints that accept
 * connections and never answer, each subscribed to the car's job changes. The worker budget is
 * `webhooks.concurrency`; the ratio (with / baseline) is the number to compare, on any machine.
 */
import { startTestCarapace } from '../src/testing/index.js';
import { connectedCar, lockAndSettle, receiverPki, signIn, startReceiver, until } from '../test/webhooks-support.js';

const HANGING = Number(process.env.BENCH_HANGING ?? 100);
// `lock` allows 10 per vehicle and minute (the catalog sequence limit): 4 per run plus one to fill the queue fit.
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 4);

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;

const pki = await receiverPki();
const receiver = await startReceiver(pki);
receiver.answer = () => 'hang';
const cp = await startTestCarapace({
  database: 'sqlite',
  outbound: pki.injection,
  overrides: {
    seedDemo: true,
    detect: { enabled: false },
    audit: { checkpointInterval: 1 },
    webhooks: { interval: 0.05, timeout: 20, leaseTtl: 30, maxSubscriptionsPerTenant: Math.max(HANGING, 1) },
    // Both runs command one car: the per-vehicle and per-user limits would otherwise refuse the second.
    commands: { perVehicle: 10_000, perUser: 10_000 },
  },
});
const car = await connectedCar(cp);
try {
  const alice = await signIn(cp, 'alice', 'carapace-owner-app', ['vehicle:lock', 'vehicle:read_status']);
  const run = async (label: string) => {
    const ms: number[] = [];
    for (let i = 0; i < COMMANDS; i++) {
      const r = await lockAndSettle(alice, car.carId, `${label}-${i}`);
      if (r.state !== 'confirmed') throw new Error(`command ${label}-${i} ended ${r.state}`);
      ms.push(r.ms);
    }
    return { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95) };
  };
  const baseline = await run('base');
  const insights = await signIn(cp, 'insights-readonly', '', ['vehicle:read_status']);
  const tenant = (
    await cp.platform.storage.db
      .selectFrom('applications')
      .select('tenant_id')
      .where('client_id', '=', 'insights-readonly')
      .executeTakeFirstOrThrow()
  ).tenant_id;
  for (let i = 0; i < HANGING; i++)
    await insights.api('POST', `/v1/tenants/${tenant}/webhooks`, {
      url: receiver.url(`/hang/${i}`),
      eventTypes: ['command.job.state_changed'],
    });
  // One command queues a delivery per endpoint; the measured run starts once the worker is saturated by them.
  await lockAndSettle(alice, car.carId, 'fill');
  await until('the worker saturated', () => cp.platform.webhooks.status().inFlight >= cp.config.webhooks.concurrency);
  const hanging = await run('hang');
  const status = cp.platform.webhooks.status();
  process.stdout.write(
    `${JSON.stringify({
      commands: COMMANDS,
      hangingEndpoints: HANGING,
      budget: cp.config.webhooks.concurrency,
      peakInFlight: status.peakInFlight,
      baselineP50Ms: Math.round(baseline.p50),
      baselineP95Ms: Math.round(baseline.p95),
      hangingP50Ms: Math.round(hanging.p50),
      hangingP95Ms: Math.round(hanging.p95),
      p50Ratio: Number((hanging.p50 / baseline.p50).toFixed(2)),
      p95Ratio: Number((hanging.p95 / baseline.p95).toFixed(2)),
    })}\n`,
  );
} finally {
  car.close();
  await receiver.close();
  await cp.stop();
}
