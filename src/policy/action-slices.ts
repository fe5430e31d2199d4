import { createHash } from 'node:crypto';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

const NS = 'Carapace::Action';

type ActionScope =
  | { op: 'All' }
  | { op: '=='; entity: { type: string; id: string } }
  | { op: 'in'; entity?: { type: string; id: string }; entities?: Array<{ type: string; id: string }> };

/** Every action's groups, transitively (`memberOf` in the schema, followed to the top). */
function groupsOf(
  schemaJson: Record<string, { actions: Record<string, { memberOf?: Array<{ id: string }> | null }> }>,
) {
  const direct = new Map<string, string[]>();
  for (const ns of Object.values(schemaJson))
    for (const [name, a] of Object.entries(ns.actions))
      direct.set(
        name,
        (a.memberOf ?? []).map((m) => m.id),
      );
  const closure = new Map<string, Set<string>>();
  const walk = (name: string, seen: Set<string>) => {
    for (const g of direct.get(name) ?? [])
      if (!seen.has(g)) {
        seen.add(g);
        walk(g, seen);
      }
    return seen;
  };
  for (const name of direct.keys()) closure.set(name, walk(name, new Set([name])));
  return closure;
}

/**
 * Whether a policy's action scope can match `action`, or null when the scope is not one this reads (the
 * policy is then kept for every action: keeping a policy is always safe, dropping one never is).
 */
function scopeMatches(scope: ActionScope, action: string, groups: Set<string>): boolean | null {
  const named = (e: { type: string; id: string } | undefined) => (e && e.type === NS ? e.id : null);
  if (scope.op === 'All') return true;
  if (scope.op === '==') return named(scope.entity) === null ? null : named(scope.entity) === action;
  if (scope.op === 'in') {
    const targets = scope.entities ?? (scope.entity ? [scope.entity] : null);
    if (!targets || targets.some((t) => named(t) === null)) return null;
    return targets.some((t) => groups.has(t.id));
  }
  return null;
}

/**
 * Per action, the policies that can apply to it, preparsed as their own set. A policy whose action scope
 * excludes an action is never satisfied for it and its conditions are never evaluated (Cedar checks the scope
 * first), so evaluating only the slice gives the same decision, reasons and errors, at a fraction of the cost:
 * evaluation time grows with the number of policies. Returns action → preparsed set id.
 */
export function preparseActionSlices(version: string, policies: Record<string, string>, schema: string) {
  const json = cedar.schemaToJson(schema);
  if (json.type === 'failure') throw new Error('the Cedar schema does not convert');
  const groups = groupsOf(json.json as Parameters<typeof groupsOf>[0]);
  const scopes = new Map<string, ActionScope | null>();
  for (const [id, text] of Object.entries(policies)) {
    const parsed = cedar.policyToJson(text);
    scopes.set(id, parsed.type === 'success' ? (parsed.json.action as ActionScope) : null);
  }
  const slices = new Map<string, string>();
  const preparsed = new Set<string>();
  for (const [action, memberOf] of groups) {
    const ids = [...scopes].filter(([, s]) => s === null || scopeMatches(s, action, memberOf) !== false);
    const slice = Object.fromEntries(ids.map(([id]) => [id, policies[id] as string]));
    const sliceId = `${version}#${createHash('sha256')
      .update(ids.map(([id]) => id).join('\0'))
      .digest('hex')
      .slice(0, 16)}`;
    if (!preparsed.has(sliceId)) {
      const answer = cedar.preparsePolicySet(sliceId, { staticPolicies: slice });
      if (answer.type === 'failure') throw new Error(`the policies for ${action} could not be preparsed`);
      preparsed.add(sliceId);
    }
    slices.set(action, sliceId);
  }
  return slices;
}
