import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import type { RunningCarapace } from '../src/server/index.js';
import { startPeer, startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import {
  CommandChannel,
  EnvelopeVerifier,
  GatewayClient,
  MemoryAnswerStore,
  MemoryCounterStore,
  VehicleModel,
} from '../src/vehicle-sdk/index.js';

/** A span as the receiver decoded it from an OTLP/HTTP JSON export, with the node that exported it. */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  node: string;
}

/** An in-process OTLP/HTTP receiver: a real listening server that decodes the JSON export of the OTel exporter. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; server: Server }> {
  const spans: ReceivedSpan[] = [];
  type Attr = { key: string; value: { stringValue?: string } };
  type Export = {
    resourceSpans: Array<{
      resource: { attributes: Attr[] };
      scopeSpans: Array<{ spans: Array<Omit<ReceivedSpan, 'node'>> }>;
    }>;
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      expect(req.headers['content-type']).toContain('application/json');
      for (const rs of (JSON.parse(body) as Export).resourceSpans) {
        const node = rs.resource.attributes.find((a) => a.key === 'service.instance.id')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId, name: s.name, node });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, spans, server };
}

// Cross-node routing that carries the trace context goes over Redis (CI sets REDIS_URL; test/ci-guard.test.ts).
const engine = testEngines().at(-1) as 'sqlite' | 'postgres';
describe.runIf(process.env.REDIS_URL)(`one trace from request to acknowledgement across two nodes (${engine})`, () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let a: TestCarapace;
  let b: RunningCarapace;
  let device: GatewayClient;
  let channel: CommandChannel;
  const model = new VehicleModel();

  beforeAll(async () => {
    receiver = await startReceiver();
    a = await startTestCarapace({
      database: engine,
      overrides: {
        seedDemo: true,
        detect: { enabled: false },
        redis: { url: process.env.REDIS_URL, keyPrefix: `trace-${crypto.randomUUID()}:` },
        observability: { traces: { enabled: true, endpoint: receiver.url, exportInterval: 0.2 } },
        // The test's collector is plain http on loopback, as a sidecar would be.
        outbound: { otlp: { allowLoopbackHttp: true } },
      },
    });
    b = await startPeer(a);
    const dir = join(a.config.dataDir, 'factory', 'TCU-DEMO-0001');
    device = new GatewayClient({ gatewayUrl: b.addresses.gateway, ca: a.ca });
    const { issued } = await device.enroll({
      cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
    });
    channel = new CommandChannel({
      answered: new MemoryAnswerStore(),
      gateway: device,
      verifier: new EnvelopeVerifier({
        counters: new MemoryCounterStore(),
        keys: issued.commandVerificationKeys.keys,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        trustAnchor: a.ca,
      }),
      execute: (c) => model.execute(c.command, c.params),
      reconnect: false,
    });
    await channel.connect();
  }, 120_000);
  afterAll(async () => {
    channel?.close();
    device?.close();
    await b?.close();
    await a?.stop();
    receiver?.server.close();
  });

  it('the caller traceparent roots request, authorization, job, routing, dispatch and ack on two nodes', async () => {
    const carId = device.credentials!.issued.vehicleId;
    expect(b.platform.commands.dispatcher.connected(carId)).toBe(true);
    expect(a.platform.commands.dispatcher.connected(carId)).toBe(false);
    const alice = await CarapaceClient.create({
      baseUrl: a.config.publicBaseUrl,
      ca: a.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await alice.login({
      email: 'alice@example.com',
      password: 'demo-alice-password',
      totp: () => currentTotp('JBSWY3DPEHPK3PXPALICE234', new Date()),
      scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
    });
    const traceId = crypto.randomUUID().replace(/-/g, '');
    const callerSpan = 'a1b2c3d4e5f60718';
    const res = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'lock' },
      { 'idempotency-key': 'trace-1', traceparent: `00-${traceId}-${callerSpan}-01` },
    );
    expect(res.status).toBe(202);
    const jobId = (res.json as { id: string }).id;
    const deadline = Date.now() + 30_000;
    let trace: ReceivedSpan[] = [];
    while (Date.now() < deadline && !trace.some((s) => s.name === 'commands.acknowledge')) {
      await Promise.all([a.platform.observability.tracing.flush(), b.platform.observability.tracing.flush()]);
      trace = receiver.spans.filter((s) => s.traceId === traceId);
      if (!trace.some((s) => s.name === 'commands.acknowledge')) await new Promise((r) => setTimeout(r, 100));
    }
    const one = (name: string) => {
      const found = trace.filter((s) => s.name === name);
      expect(found, name).toHaveLength(1);
      return found[0] as ReceivedSpan;
    };
    const request = one('POST public');
    const authorization = one('authorization');
    const job = one('commands.job.create');
    const route = one('commands.route');
    const dispatch = one('commands.dispatch');
    const ack = one('commands.acknowledge');
    // One tree: the caller's span, then each step the child of the one before it.
    expect(request.parentSpanId).toBe(callerSpan);
    expect(authorization.parentSpanId).toBe(request.spanId);
    expect(job.parentSpanId).toBe(request.spanId);
    expect(route.parentSpanId).toBe(job.spanId);
    expect(dispatch.parentSpanId).toBe(route.spanId);
    expect(ack.parentSpanId).toBe(dispatch.spanId);
    // Request, authorization and job on node A; routing, dispatch and acknowledgement on node B.
    const nodeA = a.platform.observability.tracing.instanceId;
    const nodeB = b.platform.observability.tracing.instanceId;
    expect(nodeA).not.toBe(nodeB);
    expect([request, authorization, job].map((s) => s.node)).toEqual([nodeA, nodeA, nodeA]);
    expect([route, dispatch, ack].map((s) => s.node)).toEqual([nodeB, nodeB, nodeB]);
    // The audit trail names the same trace.
    const events = await a.platform.audit.list({ objectId: jobId, type: 'commands.job.requested', limit: 5 });
    expect(events[0]?.context?.traceId).toBe(traceId);
    // Node B counted the job's confirmation and its duration.
    const metrics = await b.platform.observability.metrics.render();
    expect(metrics).toMatch(/carapace_command_job_transitions_total\{command="lock",state="confirmed"\} [1-9]/);
    expect(metrics).toMatch(/carapace_command_job_duration_seconds_count\{command="lock",state="confirmed"\} [1-9]/);
  });
});
