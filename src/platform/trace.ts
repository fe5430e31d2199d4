import { randomBytes } from 'node:crypto';

/** Attribute values a span may carry: plain scalars only, so nothing structured (a token, a key) slips in. */
export type SpanAttributes = Record<string, string | number | boolean>;

/** What kind of work a span stands for (OpenTelemetry span kinds). */
export type SpanKind = 'server' | 'client' | 'internal' | 'producer' | 'consumer';

/** One unit of traced work, named by W3C trace context. */
export interface TraceSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** The W3C `traceparent` naming this span: the parent of the work it starts, here or on another node. */
  readonly traceparent: string;
  set(key: string, value: string | number | boolean): void;
  /** Marks the span as failed, with a short reason (an error code, never a message with data in it). */
  fail(reason: string): void;
  end(): void;
}

/**
 * How modules start spans. It is passed at construction (a port), never imported as a global: the
 * observability module implements it with OpenTelemetry, and `untraced` stands in when tracing is off.
 */
export interface Tracer {
  start(name: string, parent: string | null | undefined, attributes?: SpanAttributes, kind?: SpanKind): TraceSpan;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A valid W3C `traceparent`'s parts, or null (a malformed or all-zero one is ignored, as the spec says). */
export function parseTraceparent(
  header: string | null | undefined,
): { traceId: string; spanId: string; sampled: boolean } | null {
  const m = header ? TRACEPARENT.exec(header.trim()) : null;
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return null;
  return { traceId: m[1] as string, spanId: m[2] as string, sampled: (parseInt(m[3] as string, 16) & 1) === 1 };
}

/** The W3C `traceparent` of a span. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/**
 * The tracer used when tracing is off: nothing is recorded or exported, but the trace id of an incoming
 * `traceparent` is kept (audit events and logs still correlate with the caller's trace) and passed on.
 */
export const untraced: Tracer = {
  start(_name, parent) {
    const from = parseTraceparent(parent);
    const traceId = from?.traceId ?? randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    const traceparent = formatTraceparent(traceId, spanId, from?.sampled ?? false);
    return { traceId, spanId, traceparent, set: () => undefined, fail: () => undefined, end: () => undefined };
  },
};
