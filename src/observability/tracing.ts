import { randomUUID } from 'node:crypto';
import { ROOT_CONTEXT, type Span, SpanKind as OtelKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler } from '@opentelemetry/sdk-trace-node';
import { AlwaysOnSampler } from '@opentelemetry/sdk-trace-node';
import type { Config } from '../config/index.js';
import type { Outbound } from '../outbound/index.js';
import { outboundSpanExporter } from './otlp-export.js';
import {
  formatTraceparent,
  parseTraceparent,
  type SpanKind,
  type TraceSpan,
  type Tracer,
  untraced,
} from '../platform/index.js';

/** The process's tracer and what stops it. */
export interface Tracing {
  tracer: Tracer;
  enabled: boolean;
  /** This node's `service.instance.id`: the resource attribute that tells two nodes' spans apart. */
  instanceId: string;
  /** Exports every finished span now (tests; a shutdown). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const KINDS: Record<SpanKind, OtelKind> = {
  server: OtelKind.SERVER,
  client: OtelKind.CLIENT,
  internal: OtelKind.INTERNAL,
  producer: OtelKind.PRODUCER,
  consumer: OtelKind.CONSUMER,
};

function wrap(span: Span): TraceSpan {
  const ctx = span.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    traceparent: formatTraceparent(ctx.traceId, ctx.spanId, (ctx.traceFlags & 1) === 1),
    set: (key, value) => void span.setAttribute(key, value),
    fail: (reason) => void span.setStatus({ code: SpanStatusCode.ERROR, message: reason.slice(0, 100) }),
    end: () => span.end(),
  };
}

/**
 * OpenTelemetry traces (`observability.traces`), exported over OTLP/HTTP (JSON) in batches. Off by default:
 * then the tracer is `untraced`, which keeps and passes on the caller's trace id without recording anything.
 * The provider is this platform's own, not the global one, so two nodes in one process (the tests) export under
 * their own `service.instance.id`, and parents are always passed explicitly (a W3C `traceparent` string), so no
 * context manager is involved. Spans leave through the outbound layer (purpose `otlp`).
 */
export function createTracing(settings: Config['observability']['traces'], outbound: Pick<Outbound, 'send'>): Tracing {
  const instanceId = randomUUID();
  if (!settings.enabled) {
    return { tracer: untraced, enabled: false, instanceId, flush: async () => undefined, shutdown: async () => {} };
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': settings.serviceName,
      'service.instance.id': instanceId,
    }),
    // A caller's sampling decision is honoured; a trace that starts here is always recorded.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [
      new BatchSpanProcessor(outboundSpanExporter(settings.endpoint, outbound), {
        scheduledDelayMillis: settings.exportInterval * 1000,
      }),
    ],
  });
  const otel = provider.getTracer('carapace');
  const tracer: Tracer = {
    start(name, parent, attributes, kind = 'internal') {
      const from = parseTraceparent(parent);
      const context = from
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId: from.traceId,
            spanId: from.spanId,
            traceFlags: from.sampled ? 1 : 0,
            isRemote: true,
          })
        : ROOT_CONTEXT;
      return wrap(otel.startSpan(name, { kind: KINDS[kind], attributes }, context));
    },
  };
  return {
    tracer,
    enabled: true,
    instanceId,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
