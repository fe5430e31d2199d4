/**
 * Rule fixtures (`detections/<id>.fixtures.json`): events that must make a rule fire and events that must not,
 * run through the real evaluator with the in-memory cluster adapter and the same regrouping the engine applies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { StoredAuditEvent } from '../audit/index.js';
import { createMemoryCluster } from '../cluster/index.js';
import { createEvaluator, type Hit, noAssets } from './evaluate.js';
import { regroups } from './grouping.js';
import type { GeoEntry } from './network.js';
import type { RuleOverrides } from './overrides.js';
import { parseRuleDuration, type Rule } from './rule.js';
import type { FindingAssets } from './types.js';

const closed = { additionalProperties: false } as const;
const Nullable = Type.Union([Type.String(), Type.Null()]);
const Detail = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.String())]);
const FixtureEvent = Type.Object(
  {
    at: Type.String({ pattern: '^\\+?[0-9]+(ms|s|m|h|d)$' }),
    type: Type.String({ minLength: 1 }),
    actor: Type.Optional(Type.Object({ type: Type.String(), id: Type.Optional(Nullable) }, closed)),
    applicationId: Type.Optional(Nullable),
    tenantId: Type.Optional(Nullable),
    object: Type.Optional(Type.Union([Type.Object({ type: Type.String(), id: Nullable }, closed), Type.Null()])),
    action: Type.Optional(Type.String()),
    decision: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('info')])),
    reason: Type.Optional(Nullable),
    policyVersion: Type.Optional(Nullable),
    context: Type.Optional(
      Type.Object(
        { sourceIp: Type.Optional(Nullable), requestId: Type.Optional(Nullable), traceId: Type.Optional(Nullable) },
        closed,
      ),
    ),
    details: Type.Optional(Type.Record(Type.String(), Detail)),
  },
  closed,
);
const Overrides = Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()));
const Case = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    events: Type.Array(FixtureEvent, { minItems: 1 }),
    overrides: Type.Optional(Overrides),
    expect: Type.Optional(
      Type.Object(
        {
          findings: Type.Optional(Type.Integer({ minimum: 0 })),
          assets: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
        },
        closed,
      ),
    ),
  },
  closed,
);
const GeoRow = Type.Object(
  { cidr: Type.String(), latitude: Type.Number(), longitude: Type.Number(), label: Type.String() },
  closed,
);
const FixturesSchema = Type.Object(
  {
    geo: Type.Optional(Type.Array(GeoRow)),
    overrides: Type.Optional(Overrides),
    fires: Type.Array(Case, { minItems: 1 }),
    silent: Type.Array(Case, { minItems: 1 }),
  },
  closed,
);

/** One fixtures file. */
export type Fixtures = Static<typeof FixturesSchema>;
/** One case of a fixtures file. */
export type FixtureCase = Static<typeof Case>;

/** The fixed start time fixture offsets count from. */
export const FIXTURE_START = Date.parse('2026-01-05T08:00:00.000Z');

/** Reads and validates `<id>.fixtures.json` next to the rule; throws naming the file and the field. */
export function loadFixtures(dir: string, ruleId: string): Fixtures {
  const file = join(dir, `${ruleId}.fixtures.json`);
  if (!existsSync(file)) throw new Error(`${ruleId}: ${ruleId}.fixtures.json is missing`);
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const error = Value.Errors(FixturesSchema, raw).First();
  if (error) throw new Error(`${ruleId}.fixtures.json: ${error.path || '(file)'} ${error.message}`);
  return raw as Fixtures;
}

/** A fixture event as the stored event the engine would read: ids, seq and neutral defaults filled in. */
export function storedEvent(e: Static<typeof FixtureEvent>, index: number): StoredAuditEvent {
  const offset = parseRuleDuration(e.at.replace(/^\+/, '')) as number;
  return {
    seq: index + 1,
    id: `fixture-event-${index + 1}`,
    occurredAt: new Date(FIXTURE_START + offset).toISOString(),
    type: e.type,
    actor: { type: (e.actor?.type ?? 'system') as StoredAuditEvent['actor']['type'], id: e.actor?.id ?? null },
    applicationId: e.applicationId ?? null,
    tenantId: e.tenantId ?? null,
    object: e.object ?? null,
    action: e.action ?? e.type,
    decision: e.decision ?? 'info',
    reason: e.reason ?? null,
    policyVersion: e.policyVersion ?? null,
    context: { sourceIp: null, requestId: null, traceId: null, ...e.context },
    details: e.details ?? {},
  };
}

/** A finding as the fixture runner groups it. */
export interface FixtureFinding {
  groupKey: string;
  lastSeen: string;
  count: number;
  assets: FindingAssets;
}

/** Groups hits into findings the way the engine does: per rule and group key, within the rule's regroup window. */
export function groupHits(hits: readonly Hit[]): FixtureFinding[] {
  const findings: FixtureFinding[] = [];
  for (const hit of hits) {
    const open = findings.findLast((f) => f.groupKey === hit.groupKey);
    if (open && regroups(open.lastSeen, hit.at, hit.regroupMs)) {
      open.count += 1;
      open.lastSeen = hit.at;
      for (const [k, v] of Object.entries(hit.assets)) {
        const kind = k as keyof FindingAssets;
        open.assets[kind] = [...new Set([...open.assets[kind], ...v])].sort();
      }
    } else
      findings.push({ groupKey: hit.groupKey, lastSeen: hit.at, count: 1, assets: { ...noAssets(), ...hit.assets } });
  }
  return findings;
}

/** Runs one case through a fresh evaluator; returns the findings of `rule`. */
export async function runCase(rule: Rule, c: FixtureCase, fixtures: Fixtures): Promise<FixtureFinding[]> {
  const overrides = (c.overrides ?? fixtures.overrides ?? {}) as RuleOverrides;
  const geo = (fixtures.geo ?? []) as GeoEntry[];
  const evaluator = createEvaluator({ rules: [rule], windows: createMemoryCluster(), overrides, geo });
  const hits: Hit[] = [];
  for (const [i, e] of c.events.entries()) hits.push(...(await evaluator.evaluate(storedEvent(e, i))));
  return groupHits(hits.filter((h) => h.ruleId === rule.id));
}

/** Every way a rule's fixtures fail: a fires case with the wrong findings or assets, a silent case that fires. */
export async function fixtureProblems(rule: Rule, fixtures: Fixtures): Promise<string[]> {
  const problems: string[] = [];
  for (const c of fixtures.fires) {
    const found = await runCase(rule, c, fixtures);
    const want = c.expect?.findings ?? 1;
    if (found.length !== want) problems.push(`fires "${c.name}": ${found.length} findings, expected ${want}`);
    for (const [kind, values] of Object.entries(c.expect?.assets ?? {}))
      for (const v of values)
        if (!found.some((f) => f.assets[kind as keyof FindingAssets]?.includes(v)))
          problems.push(`fires "${c.name}": no finding names ${kind} ${v}`);
  }
  for (const c of fixtures.silent) {
    const found = await runCase(rule, c, fixtures);
    if (found.length > 0) problems.push(`silent "${c.name}": fired (${found.length} findings)`);
  }
  return problems;
}
