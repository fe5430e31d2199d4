import { REQUIRED_POLICIES } from '../policy/index.js';
import {
  conditionTokenLines,
  type PolicyJson,
  type PolicySource,
  policyText,
  type SourcePolicy,
} from './policy-source.js';
import { type ActionCatalog, actionCatalog, namedActions, scopeActions } from './scope.js';

/** The mutation operators, each a plausible mistake in a policy file. */
export const MUTATION_OPERATORS = [
  'drop-when',
  'drop-unless',
  'widen-action',
  'drop-forbid',
  'swap-eq',
  'drop-guardrail',
] as const;

/** One mutation operator's name. */
export type MutationOperator = (typeof MUTATION_OPERATORS)[number];

/** One mutant: the policy set with exactly one policy changed (or deleted). */
export interface Mutant {
  /** Stable across runs while the policy is unchanged: `<operator>:<policy id>#<n>`. */
  id: string;
  operator: MutationOperator;
  policyId: string;
  file: string;
  /** The line of the mutated spot in the original file. */
  line: number;
  description: string;
  /** The mutated policy's text; null when the mutant deletes the policy. */
  text: string | null;
  /** The actions whose decisions the mutant can change (either scope's), in schema order. */
  actions: string[];
}

type Condition = PolicyJson['conditions'][number];
type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null;

/** Visits the `==` and `!=` nodes of an expression in text order (left operand, operator, right operand). */
function eqNodes(expr: unknown, out: Node[] = []): Node[] {
  if (Array.isArray(expr)) for (const e of expr) eqNodes(e, out);
  else if (isNode(expr)) {
    for (const [key, value] of Object.entries(expr)) {
      if ((key === '==' || key === '!=') && isNode(value)) {
        eqNodes(value.left, out);
        out.push(expr);
        eqNodes(value.right, out);
      } else eqNodes(value, out);
    }
  }
  return out;
}

const clone = <T>(v: T): T => structuredClone(v);

/** Builds the mutants of one policy, for every operator (callers filter). */
function mutantsOf(policy: SourcePolicy, catalog: ActionCatalog, required: ReadonlySet<string>): Mutant[] {
  const out: Mutant[] = [];
  const original = scopeActions(policy.json, catalog);
  const push = (operator: MutationOperator, n: number, line: number, description: string, json: PolicyJson | null) => {
    const actions = new Set([...original, ...(json ? scopeActions(json, catalog) : [])]);
    out.push({
      id: `${operator}:${policy.id}#${n}`,
      operator,
      policyId: policy.id,
      file: policy.file,
      line,
      description,
      text: json ? policyText(json) : null,
      actions: catalog.actions.map((a) => a.name).filter((a) => actions.has(a)),
    });
  };

  for (const kind of ['when', 'unless'] as const) {
    const lines = conditionTokenLines(policy, [kind]);
    const indexes = policy.json.conditions.flatMap((c, i) => (c.kind === kind ? [i] : []));
    indexes.forEach((at, n) => {
      const json = clone(policy.json);
      json.conditions = json.conditions.filter((_, i) => i !== at);
      push(`drop-${kind}`, n, lines[n] ?? policy.line, `the ${ordinal(n)} \`${kind}\` clause removed`, json);
    });
  }

  const eqLines = conditionTokenLines(policy, ['==', '!=']);
  const eqCount = eqNodes(policy.json.conditions).length;
  for (let n = 0; n < eqCount; n++) {
    const json = clone(policy.json);
    const node = eqNodes(json.conditions)[n] as Node;
    const [op, operands] = Object.entries(node)[0] as [string, unknown];
    const swapped = op === '==' ? '!=' : '==';
    delete node[op];
    node[swapped] = operands;
    push(
      'swap-eq',
      n,
      eqLines[n] ?? policy.line,
      `the ${ordinal(n)} \`${op}\` in the conditions made \`${swapped}\``,
      json,
    );
  }

  const widened = widerAction(policy.json, catalog, original);
  if (widened) {
    const json = clone(policy.json);
    const named = namedActions(policy.json).map((id) => ({ type: 'Carapace::Action', id }));
    json.action = { op: 'in', entities: [...named, { type: 'Carapace::Action', id: widened }] };
    const actionLine = policy.line + policy.text.slice(0, policy.text.search(/\baction\b/)).split('\n').length - 1;
    push('widen-action', 0, actionLine, `\`${widened}\` added to the action list`, json);
  }

  if (policy.json.effect === 'forbid') {
    push('drop-forbid', 0, policy.line, 'the forbid deleted', null);
    if (required.has(policy.id)) {
      // Present, still a forbid, so the required-policy manifest passes; it just never matches.
      const json = clone(policy.json);
      json.conditions = [{ kind: 'when', body: { Value: false } } as Condition];
      push('drop-guardrail', 0, policy.line, 'the guardrail kept but made to match nothing (`when { false }`)', json);
    }
  }
  return out;
}

/**
 * The action that widening adds: the next requestable action after the policy's last named one, in schema order
 * (wrapping around), that applies to the policy's principal and resource types and is not in scope yet. Schema
 * order keeps related actions together, so the added one is a sibling (read_status after read), the likely slip.
 */
function widerAction(json: PolicyJson, catalog: ActionCatalog, inScope: string[]): string | null {
  const named = namedActions(json);
  if (named.length === 0) return null;
  const candidates = scopeActions({ ...json, action: { op: 'All' } }, catalog).filter((a) => !inScope.includes(a));
  if (candidates.length === 0) return null;
  const order = catalog.actions.map((a) => a.name);
  const last = Math.max(...named.map((a) => order.indexOf(a)));
  return candidates.find((a) => order.indexOf(a) > last) ?? (candidates[0] as string);
}

const ordinal = (n: number) => ['first', 'second', 'third', 'fourth', 'fifth'][n] ?? `${n + 1}th`;

/** Every mutant of a policy directory, in file and policy order; `required` is the manifest of guardrails. */
export function generateMutants(
  source: PolicySource,
  options: { only?: readonly MutationOperator[]; required?: readonly string[] } = {},
): Mutant[] {
  const catalog = actionCatalog(source.schema);
  const required = new Set(options.required ?? REQUIRED_POLICIES);
  const all = source.policies.flatMap((p) => mutantsOf(p, catalog, required));
  return options.only ? all.filter((m) => options.only?.includes(m.operator)) : all;
}

/** The policy files of a mutant: the original files with the one policy's text replaced (or removed). */
export function mutatedFiles(source: PolicySource, mutant: Mutant): Map<string, string> {
  const files = new Map(source.files);
  const policy = source.policies.find((p) => p.id === mutant.policyId) as SourcePolicy;
  const text = files.get(policy.file) as string;
  const at = text.indexOf(policy.text);
  files.set(policy.file, `${text.slice(0, at)}${mutant.text ?? ''}${text.slice(at + policy.text.length)}`);
  return files;
}
