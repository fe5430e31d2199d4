/**
 * The evaluator: one audit event in, the rules it makes fire out. It is pure apart from the window state (scored
 * windows served by the cluster adapter), and every window write is idempotent: a member is the event's id and
 * what the kind needs of it, so evaluating the same event again (after a crash before the commit) reads the same
 * window and never counts twice.
 */
import { createHash } from 'node:crypto';
import type { StoredAuditEvent } from '../audit/index.js';
import type { WindowMember } from '../cluster/index.js';
import { judge, type WindowEntry, windowMs } from './kinds.js';
import { fieldValues, matches, readsFindings } from './match.js';
import { createGeoLookup, type GeoEntry } from './network.js';
import { effectiveRule, type RuleOverrides } from './overrides.js';
import type { Evaluation, Rule } from './rule.js';
import { ASSET_LIMIT, type AssetKind, EVIDENCE_LIMIT, type FindingAssets, type Severity } from './types.js';

/** The window state the evaluator needs: the cluster adapter's scored windows. */
export interface WindowState {
  windowAdd(key: string, member: string, scoreMs: number, ttlMs: number): Promise<boolean>;
  windowRange(key: string, fromMs: number, toMs: number, limit: number): Promise<WindowMember[]>;
  windowCount(key: string, fromMs: number, toMs: number): Promise<number>;
}

/** An evidence event: its id and its seq in the audit trail. */
export interface EvidenceRef {
  id: string;
  seq: number;
}

/** One firing of one rule on one event: what the engine turns into a raised or updated finding. */
export interface Hit {
  ruleId: string;
  ruleVersion: number;
  title: string;
  severity: Severity;
  tenantId: string | null;
  groupKey: string;
  assets: FindingAssets;
  /** The events in the window that made the rule fire, oldest first, bounded by EVIDENCE_LIMIT. */
  evidence: EvidenceRef[];
  summary: string;
  /** The firing event. */
  eventId: string;
  at: string;
  /** The regroup window of the rule, in ms. */
  regroupMs: number;
  /** True when the rule reads the detection module's own events (its findings are never read by such rules). */
  meta: boolean;
}

/** Evaluates events against the loaded rules. */
export interface Evaluator {
  readonly rules: readonly Rule[];
  /** The rules that fire on `event`. With `replay`, only feeds the windows (a restart's warm-up) and fires none. */
  evaluate(event: StoredAuditEvent, options?: { replay?: boolean }): Promise<Hit[]>;
  /** The longest window of any enabled rule, in ms (how far a warm-up replays). */
  longestWindowMs(): number;
}

/** What the evaluator is built from. */
export interface EvaluatorDeps {
  rules: readonly Rule[];
  windows: WindowState;
  overrides?: RuleOverrides;
  geo?: readonly GeoEntry[];
}

/** The detail that marks an event raised by a meta-rule: meta-rules never read those, so findings never loop. */
export const META_DETAIL = 'metaRule';

const ASSET_KINDS: AssetKind[] = ['vehicles', 'devices', 'users', 'clients', 'tenants', 'serials', 'thumbprints'];

/** Empty asset lists. */
export function noAssets(): FindingAssets {
  return { vehicles: [], devices: [], users: [], clients: [], tenants: [], serials: [], thumbprints: [], networks: [] };
}

function assetsOf(rule: Rule, event: StoredAuditEvent): FindingAssets {
  const out = noAssets();
  for (const kind of [...ASSET_KINDS, 'networks'] as AssetKind[]) {
    const values = (rule.assets[kind] ?? []).flatMap((p) => fieldValues(event, p));
    if (kind === 'tenants' && event.tenantId) values.push(event.tenantId);
    out[kind] = [...new Set(values)].sort().slice(0, ASSET_LIMIT);
  }
  return out;
}

/** The group key of an event (`actor.id=u1&details.jti=j`), or null when a key field is missing. */
function groupKeyOf(rule: Rule, event: StoredAuditEvent): string | null {
  if (rule.key.length === 0) return '*';
  const parts: string[] = [];
  for (const path of rule.key) {
    const values = fieldValues(event, path);
    if (values.length === 0) return null;
    parts.push(`${path}=${[...new Set(values)].sort().join(',')}`);
  }
  return parts.join('&');
}

/** What the window member of an event carries for the kind; null when the event contributes nothing. */
function memberData(ev: Evaluation, event: StoredAuditEvent, locate: ReturnType<typeof createGeoLookup>): unknown {
  switch (ev.kind) {
    case 'threshold': {
      if (!ev.weight) return 1;
      const w = Number(fieldValues(event, ev.weight)[0]);
      return Number.isFinite(w) && w >= 0 ? w : 1;
    }
    case 'distinct':
    case 'new-value': {
      const values = [...new Set(fieldValues(event, ev.field))].sort();
      return values.length > 0 ? values : null;
    }
    case 'sequence':
      return [matches(ev.first, event), matches(ev.then, event)];
    case 'ratio':
      return matches(ev.numerator, event) ? 1 : 0;
    case 'baseline':
      return 1;
    case 'travel': {
      const address = fieldValues(event, ev.field.replace(/^net\((.+)\)$/, '$1'))[0];
      return (address && locate(address)) ?? null;
    }
  }
}

function summaryOf(rule: Rule, ev: Evaluation, groupKey: string, value: number): string {
  const window = 'window' in ev ? ev.window : 'within' in ev ? ev.within : 'bucket' in ev ? ev.bucket : '';
  const threshold = 'threshold' in ev ? String(ev.threshold) : 'factor' in ev ? String(ev.factor) : '';
  return rule.because
    .replaceAll('{count}', String(value))
    .replaceAll('{key}', groupKey)
    .replaceAll('{window}', window ?? '24h')
    .replaceAll('{threshold}', threshold)
    .slice(0, 500);
}

/** True when the rule may read the event at all: its match, and never a detection event it did not ask for. */
function reads(rule: Rule, event: StoredAuditEvent): boolean {
  if (event.type.startsWith('detect.')) {
    if (!readsFindings(rule.match) || event.details[META_DETAIL] === true) return false;
  }
  return matches(rule.match, event);
}

/** Builds the evaluator over the rules, the window state, the overrides and the geo table. */
export function createEvaluator(deps: EvaluatorDeps): Evaluator {
  const overrides = deps.overrides ?? {};
  const locate = createGeoLookup(deps.geo ?? []);
  // A key's window holds the events of every tenant (a key need not name the tenant), so its members are kept for
  // the longest window any tenant override gives the rule: an event of a tenant with a shorter window must not trim
  // (or expire) the members a longer-window tenant's events are judged on.
  const keepMs = new Map(
    deps.rules.map((r) => {
      const tenants = Object.keys(overrides[r.id]?.tenants ?? {});
      return [r.id, Math.max(...[null, ...tenants].map((t) => windowMs(effectiveRule(r, overrides, t).evaluate)))];
    }),
  );
  const windowKey = (rule: Rule, groupKey: string) =>
    `detect:w:${rule.id}:${rule.digest}:${createHash('sha256').update(groupKey).digest('hex').slice(0, 32)}`;

  async function evaluateRule(rule: Rule, event: StoredAuditEvent, replay: boolean): Promise<Hit | null> {
    const effective = effectiveRule(rule, overrides, event.tenantId);
    if (!effective.enabled || !reads(rule, event)) return null;
    const groupKey = groupKeyOf(rule, event);
    const data = groupKey === null ? null : memberData(effective.evaluate, event, locate);
    if (groupKey === null || data === null) return null;
    const at = Date.parse(event.occurredAt);
    const span = windowMs(effective.evaluate);
    const key = windowKey(rule, groupKey);
    await deps.windows.windowAdd(key, JSON.stringify([event.id, event.seq, data]), at, keepMs.get(rule.id) ?? span);
    if (replay) return null;
    // An event exactly one window older than this one is outside it.
    const from = at - span + 1;
    // A plain count is judged without reading the window, and fires with the oldest EVIDENCE_LIMIT as evidence, so
    // a flood on one key costs a count per event, not a read of up to WINDOW_MEMBER_LIMIT members.
    const counted = effective.evaluate.kind === 'threshold' && !effective.evaluate.weight;
    if (
      counted &&
      (await deps.windows.windowCount(key, from, at)) < (effective.evaluate as { threshold: number }).threshold
    )
      return null;
    const members = await deps.windows.windowRange(key, from, at, counted ? EVIDENCE_LIMIT : Number.MAX_SAFE_INTEGER);
    const entries: WindowEntry[] = members.map((m) => {
      const [id, seq, d] = JSON.parse(m.member) as [string, number, unknown];
      return { id, seq, at: m.score, data: d };
    });
    const now = entries.find((e) => e.id === event.id) ?? { id: event.id, seq: event.seq, at, data };
    const judgement = judge(effective.evaluate, entries, now);
    if (!judgement) return null;
    return {
      ruleId: rule.id,
      ruleVersion: rule.version,
      title: rule.title,
      severity: effective.severity,
      tenantId: event.tenantId,
      groupKey,
      assets: assetsOf(rule, event),
      evidence: judgement.evidence.slice(0, EVIDENCE_LIMIT).map((e) => ({ id: e.id, seq: e.seq })),
      summary: summaryOf(rule, effective.evaluate, groupKey, judgement.value),
      eventId: event.id,
      at: event.occurredAt,
      regroupMs: windowMsOf(rule.regroup),
      meta: readsFindings(rule.match),
    };
  }

  return {
    rules: deps.rules,
    async evaluate(event, options = {}) {
      const hits: Hit[] = [];
      for (const rule of deps.rules) {
        const hit = await evaluateRule(rule, event, options.replay === true);
        if (hit) hits.push(hit);
      }
      return hits;
    },
    longestWindowMs() {
      // Overrides can lengthen a window, for the whole rule or one tenant: the longest of them counts.
      const spans = deps.rules.flatMap((r) => {
        const tenants = Object.keys(overrides[r.id]?.tenants ?? {});
        return [null, ...tenants].map((t) => windowMs(effectiveRule(r, overrides, t).evaluate));
      });
      return Math.max(0, ...spans);
    },
  };
}

function windowMsOf(duration: string): number {
  return windowMs({ kind: 'threshold', threshold: 1, window: duration });
}
