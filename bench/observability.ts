/**
 * Observability overhead benchmark. Measures, in one run on this machine, requests/s through Fastify's `inject`
 * (no sockets, so the difference is the hooks' own cost) of one route with a path parameter:
 * - baseline: no observer;
 * - metrics: the listener observer with metrics (label lookup, histogram) and the untraced tracer (tracing off);
 * - traced: the same with OpenTelemetry spans exported in batches to a local OTLP/HTTP receiver that discards them.
 * Prints the ratios to the baseline as its last line.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { createMetrics, createTracing, observeListener } from '../src/observability/index.js';
import { createLogger, type Tracer } from '../src/platform/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);

async function rate(observe: Tracer | null): Promise<number> {
  const app = Fastify({ loggerInstance: createLogger('silent') as FastifyBaseLogger });
  if (observe) {
    const observer = observeListener('public', { metrics: createMetrics().http, tracer: observe });
    app.decorateRequest('traceId', '');
    app.decorateRequest('traceparent', '');
    app.decorateRequest('refusal', null);
    app.addHook('onRequest', async (req) => observer.start(req));
    app.addHook('onResponse', async (req, reply) => observer.finish(req, reply));
  }
  app.get('/v1/vehicles/:vehicleId', async (req) => ({ id: (req.params as { vehicleId: string }).vehicleId }));
  await app.ready();
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  const start = performance.now();
  while (performance.now() < deadline) {
    await app.inject({ url: `/v1/vehicles/v-${done % 1000}`, headers: { traceparent: TRACEPARENT } });
    done++;
  }
  const perSecond = done / ((performance.now() - start) / 1000);
  await app.close();
  return perSecond;
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const receiver = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end('{}')));
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
// The exporter's sender: a plain POST to the local receiver (the outbound layer's own cost is not measured here).
const sender = {
  send: async (req: { url: string; body?: string | Uint8Array }) => {
    const res = await fetch(req.url, {
      method: 'POST',
      body: req.body,
      headers: { 'content-type': 'application/json' },
    });
    return {
      status: res.status,
      headers: {},
      body: Buffer.from(await res.arrayBuffer()),
      address: '127.0.0.1',
      truncated: false,
    };
  },
};
const tracing = createTracing({ enabled: true, endpoint, serviceName: 'bench', exportInterval: 0.5 }, sender);
const untraced = createTracing({ enabled: false, endpoint, serviceName: 'bench', exportInterval: 1 }, sender).tracer;

// Interleaved rounds, best of each: the machine's other load hits every variant alike.
const best = { baseline: 0, metrics: 0, traced: 0 };
for (let round = 0; round < ROUNDS; round++) {
  best.baseline = Math.max(best.baseline, await rate(null));
  best.metrics = Math.max(best.metrics, await rate(untraced));
  best.traced = Math.max(best.traced, await rate(tracing.tracer));
}
const { baseline, metrics, traced } = best;
await tracing.shutdown();
receiver.close();
const round = (n: number) => Math.round(n * 100) / 100;
process.stdout.write(
  `${JSON.stringify({
    baselinePerSecond: Math.round(baseline),
    metricsPerSecond: Math.round(metrics),
    tracedPerSecond: Math.round(traced),
    metricsRatio: round(metrics / baseline),
    tracedRatio: round(traced / baseline),
  })}\n`,
);
