/**
 * The span exporter: OTLP/HTTP with the JSON encoding, sent through the outbound layer (purpose `otlp`) like every
 * other call Carapace makes, so the collector's address is judged, pinned, time- and size-capped and audited when
 * refused. The OpenTelemetry exporter package would open its own connections instead.
 */
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-node';
import type { Outbound } from '../outbound/index.js';

/** A collector's answer is a small JSON status: more than this is not read. */
const ANSWER_BYTES = 64 * 1024;

/** Creates the exporter that posts finished spans to `endpoint` through `outbound`. */
export function outboundSpanExporter(endpoint: string, outbound: Pick<Outbound, 'send'>): SpanExporter {
  let stopped = false;
  const pending = new Set<Promise<unknown>>();
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      const body = stopped ? undefined : JsonTraceSerializer.serializeRequest(spans);
      if (!body) return done({ code: ExportResultCode.FAILED, error: new Error('the exporter is shut down') });
      const sent = outbound
        .send({
          purpose: 'otlp',
          url: endpoint,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          timeoutMs: 10_000,
          maxResponseBytes: ANSWER_BYTES,
          overflow: 'truncate',
        })
        .then(
          (res) =>
            done(
              res.status >= 200 && res.status < 300
                ? { code: ExportResultCode.SUCCESS }
                : { code: ExportResultCode.FAILED, error: new Error(`the collector answered ${res.status}`) },
            ),
          (err: unknown) => done({ code: ExportResultCode.FAILED, error: err as Error }),
        );
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    },
    async forceFlush() {
      await Promise.allSettled([...pending]);
    },
    async shutdown() {
      stopped = true;
      await Promise.allSettled([...pending]);
    },
  };
}
