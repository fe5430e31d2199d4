import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One sample another module computes (a governance number); `value: null` means "no data yet" and is left out. */
export interface CollectedSample {
  name: string;
  help: string;
  labels?: Readonly<Record<string, string>>;
  value: number | null;
}

/** A function that returns samples at each scrape (e.g. the inventory's governance metrics). */
export type Collector = () => readonly CollectedSample[] | Promise<readonly CollectedSample[]>;

/**
 * A collector that computes at most once per `periodMs` and answers from its last result in between: a governance
 * number reads the trail over a window, which a scrape every few seconds should not repeat. A failure is not kept.
 */
export function collectedAtMost(periodMs: number, collector: Collector, now = () => Date.now()): Collector {
  let last: { at: number; samples: Promise<readonly CollectedSample[]> } | null = null;
  return () => {
    if (last && now() - last.at < periodMs) return last.samples;
    const samples = Promise.resolve(collector());
    const entry = { at: now(), samples };
    last = entry;
    samples.catch(() => {
      if (last === entry) last = null;
    });
    return samples;
  };
}

/** What the listeners record: one call per answered request, refusal and TLS handshake. */
export interface HttpMetricsPort {
  /** `route` is the route template (`/v1/vehicles/:vehicleId`), or `unmatched`: never the raw URL. */
  request(listener: string, route: string, method: string, status: number, seconds: number): void;
  refused(listener: string, code: string): void;
  handshake(listener: string, outcome: 'ok' | 'failed'): void;
}

/** What the policy decision point records. */
export interface DecisionMetricsPort {
  decision(outcome: 'allow' | 'deny' | 'error'): void;
}

/** What telemetry ingestion records: one call per judged message. */
export interface TelemetryMetricsPort {
  verdict(verdict: 'accepted' | 'duplicate' | 'rejected', reason: string | undefined): void;
}

/** What the command dispatcher records: each committed job state, and the time from request to a final state. */
export interface CommandMetricsPort {
  job(command: string, state: string, secondsSinceRequest: number | null): void;
}

/** The process's metrics: typed ports for the modules, gauges read at scrape time, and outside collectors. */
export interface Metrics {
  http: HttpMetricsPort;
  decisions: DecisionMetricsPort;
  telemetry: TelemetryMetricsPort;
  commands: CommandMetricsPort;
  /** A gauge read at each scrape; `read` returning null leaves the sample out. */
  gauge(name: string, help: string, read: () => number | null | Promise<number | null>): void;
  /** Publishes another module's samples on /metrics (the governance metrics), read at each scrape. */
  registerCollector(collector: Collector): void;
  /** The Prometheus text exposition of everything above. */
  render(): Promise<string>;
  contentType: string;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const JOB_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const FINAL = new Set(['confirmed', 'failed', 'rejected', 'expired', 'cancelled']);
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Label children by key: a request costs one map lookup, not a label object per call. */
function cached<T>(make: (key: string) => T): (key: string) => T {
  const children = new Map<string, T>();
  return (key) => {
    let child = children.get(key);
    if (!child) {
      child = make(key);
      children.set(key, child);
    }
    return child;
  };
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** The exposition text of collected samples; a malformed name is skipped rather than breaking the scrape. */
export function formatSamples(samples: readonly CollectedSample[]): string {
  const byName = new Map<string, CollectedSample[]>();
  for (const s of samples) {
    if (s.value === null || !Number.isFinite(s.value) || !NAME.test(s.name)) continue;
    byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  }
  const lines: string[] = [];
  for (const [name, group] of byName) {
    lines.push(`# HELP ${name} ${(group[0] as CollectedSample).help.replace(/\n/g, ' ')}`, `# TYPE ${name} gauge`);
    for (const s of group) {
      const labels = Object.entries(s.labels ?? {}).filter(([k]) => NAME.test(k) && !k.includes(':'));
      const text = labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      lines.push(`${name}${text ? `{${text}}` : ''} ${s.value}`);
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * Creates the metrics of one platform in a registry of its own (two nodes in one process never mix), with
 * prom-client. Label values come from bounded sets only: listener names, route templates, status codes, error
 * codes, decision outcomes, verdicts and reasons, command names and job states.
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Histogram({
    name: 'carapace_http_request_duration_seconds',
    help: 'Time to answer a request, by listener, route template, method and status.',
    labelNames: ['listener', 'route', 'method', 'status'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const refusals = new Counter({
    name: 'carapace_http_refusals_total',
    help: 'Requests refused before any route code ran (certificate, token), by listener and error code.',
    labelNames: ['listener', 'code'],
    registers,
  });
  const handshakes = new Counter({
    name: 'carapace_tls_handshakes_total',
    help: 'TLS handshakes by listener and outcome.',
    labelNames: ['listener', 'outcome'],
    registers,
  });
  const decisions = new Counter({
    name: 'carapace_authorization_decisions_total',
    help: 'Policy decisions by outcome (error: the engine failed, which denies).',
    labelNames: ['outcome'],
    registers,
  });
  const verdicts = new Counter({
    name: 'carapace_telemetry_messages_total',
    help: 'Telemetry messages by verdict and rejection reason.',
    labelNames: ['verdict', 'reason'],
    registers,
  });
  const jobs = new Counter({
    name: 'carapace_command_job_transitions_total',
    help: 'Command job state changes seen by this node, by command and new state.',
    labelNames: ['command', 'state'],
    registers,
  });
  const jobLatency = new Histogram({
    name: 'carapace_command_job_duration_seconds',
    help: 'Time from the request to a final state, by command and final state.',
    labelNames: ['command', 'state'],
    buckets: JOB_BUCKETS,
    registers,
  });
  const request = cached((k) => requests.labels(...(k.split('\u0000') as [string, string, string, string])));
  const refusal = cached((k) => refusals.labels(...(k.split('\u0000') as [string, string])));
  const handshake = cached((k) => handshakes.labels(...(k.split('\u0000') as [string, string])));
  const decision = cached((k) => decisions.labels(k));
  const verdict = cached((k) => verdicts.labels(...(k.split('\u0000') as [string, string])));
  const job = cached((k) => jobs.labels(...(k.split('\u0000') as [string, string])));
  const latency = cached((k) => jobLatency.labels(...(k.split('\u0000') as [string, string])));
  const collectors: Collector[] = [];
  return {
    http: {
      request: (listener, route, method, status, seconds) =>
        request(`${listener}\u0000${route}\u0000${method}\u0000${status}`).observe(seconds),
      refused: (listener, code) => refusal(`${listener}\u0000${code}`).inc(),
      handshake: (listener, outcome) => handshake(`${listener}\u0000${outcome}`).inc(),
    },
    decisions: { decision: (outcome) => decision(outcome).inc() },
    telemetry: { verdict: (v, reason) => verdict(`${v}\u0000${reason ?? ''}`).inc() },
    commands: {
      job(command, state, seconds) {
        job(`${command}\u0000${state}`).inc();
        if (seconds !== null && FINAL.has(state)) latency(`${command}\u0000${state}`).observe(seconds);
      },
    },
    gauge(name, help, read) {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const value = await read();
          if (value === null) this.reset();
          else this.set(value);
        },
      });
    },
    registerCollector: (collector) => void collectors.push(collector),
    async render() {
      // A collector that fails leaves its samples out of this scrape; the rest is still published.
      const collected = await Promise.all(collectors.map(async (c) => Promise.resolve(c()).catch(() => [])));
      return (await registry.metrics()) + formatSamples(collected.flat());
    },
    contentType: registry.contentType,
  };
}
