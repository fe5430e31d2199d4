import Fastify, { type FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createLogger, untraced } from '../platform/index.js';
import { observeListener } from './listener.js';
import { createMetrics } from './metrics.js';
import { createTracing } from './tracing.js';

/** A Fastify app whose log lines are captured, observed like a listener (the hooks createListenerApp installs). */
async function observedApp(tracer = untraced) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) });
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, disableRequestLogging: true });
  const metrics = createMetrics();
  const observer = observeListener('public', { metrics: metrics.http, tracer });
  app.decorateRequest('traceId', '');
  app.decorateRequest('traceparent', '');
  app.decorateRequest('refusal', null);
  app.addHook('onRequest', async (req) => observer.start(req));
  app.addHook('onResponse', async (req, reply) => observer.finish(req, reply));
  app.get('/v1/things/:id', async (req) => {
    req.log.info('handled');
    return { traceparent: req.traceparent };
  });
  await app.ready();
  return { app, lines, metrics };
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER = `00-${TRACE}-00f067aa0ba902b7-01`;

/** This test reads trace ids from logs: spans are never exported (there is no collector). */
const noCollector = { send: () => Promise.reject(new Error('no collector in this test')) };

describe('the listener observer', () => {
  it('puts the trace and span ids of the request on its log lines (tracing off: the caller trace id)', async () => {
    const { app, lines } = await observedApp();
    const res = await app.inject({ url: '/v1/things/1', headers: { traceparent: CALLER } });
    const span = (res.json() as { traceparent: string }).traceparent.split('-');
    const line = lines.find((l) => l.msg === 'handled');
    expect(line?.trace_id).toBe(TRACE);
    expect(line?.span_id).toBe(span[2]);
    expect(span[2]).not.toBe('00f067aa0ba902b7');
    await app.close();
  });

  it('starts a new trace for a malformed or all-zero traceparent, with tracing on', async () => {
    const tracing = createTracing(
      {
        enabled: true,
        endpoint: 'http://127.0.0.1:9/v1/traces',
        serviceName: 'test',
        exportInterval: 60,
      },
      noCollector,
    );
    const { app, lines } = await observedApp(tracing.tracer);
    for (const bad of ['00-zz-00f067aa0ba902b7-01', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`]) {
      await app.inject({ url: '/v1/things/1', headers: { traceparent: bad } });
      const line = lines.filter((l) => l.msg === 'handled').at(-1);
      expect(line?.trace_id).toMatch(/^[0-9a-f]{32}$/);
      expect(line?.trace_id).not.toBe('0'.repeat(32));
    }
    await app.inject({ url: '/v1/things/1', headers: { traceparent: CALLER } });
    expect(lines.filter((l) => l.msg === 'handled').at(-1)?.trace_id).toBe(TRACE);
    await app.close();
    // Not shut down: that would flush to the unreachable endpoint and wait out the exporter's retries.
  });

  it('records latency by route template, not by the raw path', async () => {
    const { app, metrics } = await observedApp();
    await app.inject({ url: '/v1/things/secret-looking-id-123' });
    const text = await metrics.render();
    expect(text).toContain('route="/v1/things/:id"');
    expect(text).not.toContain('secret-looking-id-123');
    await app.close();
  });
});
