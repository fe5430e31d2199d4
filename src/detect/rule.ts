/**
 * Detection rules as data: one JSON file per rule under `detections/`, validated with a closed schema at start.
 * A rule that does not validate refuses the start with an error naming the file and the field, so a typo never
 * silently disables a detection.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { AssetKind } from './types.js';

/** The rule files shipped with Carapace. */
export const DEFAULT_DETECTIONS_DIR = new URL('../../detections/', import.meta.url).pathname;

const closed = { additionalProperties: false } as const;
const Duration = Type.String({ pattern: '^[0-9]+(ms|s|m|h|d)$' });
const Path = Type.String({ minLength: 1, maxLength: 200 });
const TypePattern = Type.String({ pattern: '^[a-z0-9_-]+(\\.[a-z0-9_-]+)*(\\.\\*)?$', maxLength: 200 });
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

const Condition = Type.Object(
  {
    field: Path,
    op: Type.Union([
      Type.Literal('eq'),
      Type.Literal('ne'),
      Type.Literal('in'),
      Type.Literal('exists'),
      Type.Literal('absent'),
      Type.Literal('prefix'),
    ]),
    value: Type.Optional(Type.Union([Scalar, Type.Array(Scalar, { maxItems: 1000 })])),
  },
  closed,
);

const Match = Type.Object(
  {
    types: Type.Optional(Type.Array(TypePattern, { minItems: 1, maxItems: 100 })),
    decisions: Type.Optional(
      Type.Array(Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('info')]), { minItems: 1 }),
    ),
    reasons: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 100 })),
    where: Type.Optional(Type.Array(Condition, { minItems: 1, maxItems: 20 })),
  },
  closed,
);

const Count = Type.Integer({ minimum: 1, maximum: 1_000_000 });
const Evaluate = Type.Union([
  Type.Object(
    { kind: Type.Literal('threshold'), threshold: Count, window: Duration, weight: Type.Optional(Path) },
    closed,
  ),
  Type.Object(
    {
      kind: Type.Literal('distinct'),
      threshold: Count,
      window: Duration,
      field: Path,
      sequential: Type.Optional(Type.Boolean()),
    },
    closed,
  ),
  Type.Object(
    { kind: Type.Literal('new-value'), field: Path, window: Duration, threshold: Type.Optional(Count) },
    closed,
  ),
  Type.Object({ kind: Type.Literal('sequence'), first: Match, then: Match, within: Duration }, closed),
  Type.Object(
    {
      kind: Type.Literal('ratio'),
      numerator: Match,
      threshold: Type.Number({ minimum: 0, maximum: 1 }),
      minimum: Count,
      window: Duration,
    },
    closed,
  ),
  Type.Object(
    {
      kind: Type.Literal('baseline'),
      bucket: Duration,
      history: Type.Integer({ minimum: 1, maximum: 1000 }),
      factor: Type.Number({ minimum: 1, maximum: 1_000_000 }),
      minimum: Count,
    },
    closed,
  ),
  Type.Object(
    {
      kind: Type.Literal('travel'),
      field: Path,
      maxKmh: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
      window: Type.Optional(Duration),
    },
    closed,
  ),
]);

const ASSET_KINDS: AssetKind[] = [
  'vehicles',
  'devices',
  'users',
  'clients',
  'tenants',
  'serials',
  'thumbprints',
  'networks',
];
const Assets = Type.Object(
  Object.fromEntries(ASSET_KINDS.map((k) => [k, Type.Optional(Type.Array(Path, { minItems: 1, maxItems: 10 }))])),
  closed,
);

/** The closed schema of one rule file. */
export const RuleSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 100 }),
    version: Type.Integer({ minimum: 1 }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.String({ minLength: 1, maxLength: 4000 }),
    severity: Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('critical')]),
    enabled: Type.Boolean(),
    match: Match,
    key: Type.Array(Path, { maxItems: 5 }),
    evaluate: Evaluate,
    assets: Assets,
    regroup: Duration,
    because: Type.String({ minLength: 1, maxLength: 500 }),
  },
  closed,
);

/** A match object: which events a rule (or one step of it) reads. */
export type Match = Static<typeof Match>;
/** One `where` condition. */
export type Condition = Static<typeof Condition>;
/** The `evaluate` object of a rule. */
export type Evaluation = Static<typeof Evaluate>;
/** A rule as written in its file (validated). */
export type RuleFile = Omit<Static<typeof RuleSchema>, 'assets'> & {
  assets: Partial<Record<AssetKind, string[]>>;
};

/** A loaded rule: the file, where it came from, and a digest of its content. */
export interface Rule extends RuleFile {
  file: string;
  /** sha256 of the file content: window state is keyed by it, so an edited rule starts with empty windows. */
  digest: string;
}

/** Raised when a rule file is invalid; names the file and the field. The start stops. */
export class RuleFileError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
  ) {
    super(`detection rule ${file}: ${field || '(file)'} ${problem}`);
    this.name = 'RuleFileError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a rule duration (`500ms`, `30s`, `5m`, `2h`, `1d`); null when it is not one. */
export function parseRuleDuration(text: string): number | null {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * (UNITS[m[2] as string] as number);
}

const FIELDS = new Set([
  'type',
  'actor.type',
  'actor.id',
  'applicationId',
  'tenantId',
  'object.type',
  'object.id',
  'action',
  'decision',
  'reason',
  'policyVersion',
  'context.sourceIp',
  'context.requestId',
  'context.traceId',
  'occurredAt',
]);

/** True when `path` names a field of a stored audit event, optionally wrapped in `net(...)` where allowed. */
export function isFieldPath(path: string, allowNet: boolean): boolean {
  const net = /^net\((.+)\)$/.exec(path);
  if (net) return allowNet && isFieldPath(net[1] as string, false);
  return FIELDS.has(path) || /^details\.[A-Za-z0-9_]{1,100}$/.test(path);
}

/** The first schema error as [field, problem], with the field as a dot path. */
function schemaProblem(schema: TSchema, value: unknown): [string, string] | null {
  const first = Value.Errors(schema, value).First();
  if (!first) return null;
  const field = first.path.replace(/^\//, '').replaceAll('/', '.');
  return [field, first.message.toLowerCase()];
}

function checkPaths(rule: RuleFile): [string, string] | null {
  const bad = (field: string, path: string): [string, string] => [field, `is not a field path: "${path}"`];
  const matches: Array<[string, Match]> = [['match', rule.match]];
  const ev = rule.evaluate;
  if (ev.kind === 'sequence') matches.push(['evaluate.first', ev.first], ['evaluate.then', ev.then]);
  if (ev.kind === 'ratio') matches.push(['evaluate.numerator', ev.numerator]);
  for (const [name, m] of matches)
    for (const [i, c] of (m.where ?? []).entries()) {
      if (!isFieldPath(c.field, false)) return bad(`${name}.where.${i}.field`, c.field);
      const needsValue = c.op !== 'exists' && c.op !== 'absent';
      if (needsValue !== (c.value !== undefined)) return [`${name}.where.${i}.value`, 'is required for this op only'];
      if ((c.op === 'in') !== Array.isArray(c.value)) return [`${name}.where.${i}.value`, 'must be an array for in'];
    }
  for (const [i, k] of rule.key.entries()) if (!isFieldPath(k, true)) return bad(`key.${i}`, k);
  for (const [kind, paths] of Object.entries(rule.assets))
    for (const [i, p] of (paths ?? []).entries()) if (!isFieldPath(p, true)) return bad(`assets.${kind}.${i}`, p);
  if ('field' in ev && !isFieldPath(ev.field, true)) return bad('evaluate.field', ev.field);
  if (ev.kind === 'threshold' && ev.weight && !isFieldPath(ev.weight, false)) return bad('evaluate.weight', ev.weight);
  return null;
}

function checkSemantics(rule: RuleFile, file: string): [string, string] | null {
  if (`${rule.id}.json` !== file) return ['id', `must equal the file name (${file})`];
  for (const d of ['regroup', 'evaluate.window', 'evaluate.within', 'evaluate.bucket']) {
    const [a, b] = d.split('.') as [string, string | undefined];
    const v = (b ? (rule[a as 'evaluate'] as Record<string, unknown>)[b] : rule[a as 'regroup']) as unknown;
    if (typeof v === 'string' && (parseRuleDuration(v) ?? 0) < 1) return [d, 'must be a positive duration'];
  }
  const ev = rule.evaluate;
  if (ev.kind === 'sequence' && rule.match.types)
    for (const step of ['first', 'then'] as const)
      for (const t of ev[step].types ?? [])
        if (!rule.match.types.some((p) => typeCovers(p, t)))
          return [`evaluate.${step}.types`, `"${t}" is not covered by match.types`];
  return checkPaths(rule);
}

/** True when the type pattern `pattern` (exact, or a prefix ending in `.*`) matches every `type` matches. */
function typeCovers(pattern: string, type: string): boolean {
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Validates one rule file's text; throws RuleFileError naming the file and the field. */
export function parseRule(file: string, text: string): Rule {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RuleFileError(file, '', `is not JSON: ${(err as Error).message}`);
  }
  const problem = schemaProblem(RuleSchema, raw);
  if (problem) throw new RuleFileError(file, ...problem);
  const rule = raw as RuleFile;
  const semantic = checkSemantics(rule, file);
  if (semantic) throw new RuleFileError(file, ...semantic);
  return { ...rule, file, digest: createHash('sha256').update(text).digest('hex').slice(0, 16) };
}

/** Reads and validates every `<id>.json` in `dir` (fixtures files are skipped); any invalid rule throws. */
export function loadRules(dir: string = DEFAULT_DETECTIONS_DIR): Rule[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.fixtures.json'))
    .sort();
  return files.map((f) => parseRule(f, readFileSync(join(dir, f), 'utf8')));
}
