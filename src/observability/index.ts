/** The observability module's public surface: other folders import only from here. */
export { countHandshakes, observeListener } from './listener.js';
export { collectedAtMost, createMetrics, formatSamples } from './metrics.js';
export type {
  CollectedSample,
  Collector,
  CommandMetricsPort,
  DecisionMetricsPort,
  HttpMetricsPort,
  Metrics,
  TelemetryMetricsPort,
} from './metrics.js';
export { countDecisions, healthGauges } from './platform-gauges.js';
export { registerMetricsRoute } from './routes.js';
export { createTracing, type Tracing } from './tracing.js';
