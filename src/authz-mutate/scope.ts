import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyJson } from './policy-source.js';

/** What the schema says of one requestable action (an action group has no `appliesTo` and is never asked). */
interface ActionInfo {
  name: string;
  principals: string[];
  resources: string[];
  /** Every group the action is in, transitively. */
  groups: Set<string>;
}

/** The schema's actions, in declaration order: what scopes are matched against. */
export interface ActionCatalog {
  actions: ActionInfo[];
  /** The principal type of the admin plane: its actions are decided there, and only there. */
  isAdmin(action: string): boolean;
}

type Ref = { type: string; id: string };
type Constraint = { op: string; entity?: Ref; entities?: Ref[]; entity_type?: string };

/** Reads the actions and their groups from the Cedar schema text. */
export function actionCatalog(schemaText: string): ActionCatalog {
  const json = cedar.schemaToJson(schemaText);
  if (json.type === 'failure') throw new Error(`the schema does not convert: ${json.errors[0]?.message ?? ''}`);
  const raw = new Map<
    string,
    { principals: string[]; resources: string[]; memberOf: string[]; requestable: boolean }
  >();
  for (const ns of Object.values(json.json))
    for (const [name, a] of Object.entries(ns.actions)) {
      const applies = a.appliesTo as { principalTypes?: string[]; resourceTypes?: string[] } | null | undefined;
      raw.set(name, {
        principals: applies?.principalTypes ?? [],
        resources: applies?.resourceTypes ?? [],
        memberOf: (a.memberOf ?? []).map((m) => m.id),
        requestable: !!applies,
      });
    }
  const groupsOf = (name: string, seen = new Set<string>()): Set<string> => {
    for (const g of raw.get(name)?.memberOf ?? [])
      if (!seen.has(g)) {
        seen.add(g);
        groupsOf(g, seen);
      }
    return seen;
  };
  const actions = [...raw]
    .filter(([, a]) => a.requestable)
    .map(([name, a]) => ({ name, principals: a.principals, resources: a.resources, groups: groupsOf(name) }));
  const admin = new Set(actions.filter((a) => a.principals.includes('Operator')).map((a) => a.name));
  return { actions, isAdmin: (a) => admin.has(a) };
}

const bare = (type: string) => type.split('::').pop() as string;

/** The entity types a principal or resource constraint admits; null when any type may match (`All`, `in`). */
function typesOf(c: Constraint): string[] | null {
  if (c.op === '==' && c.entity) return [bare(c.entity.type)];
  if (c.op === 'is' && c.entity_type) return [bare(c.entity_type)];
  return null;
}

/** The action names an action constraint names directly (the entities of `==` or `in`); empty for `All`. */
export function namedActions(policy: PolicyJson): string[] {
  const c = policy.action as Constraint;
  if (c.op === '==' && c.entity) return [c.entity.id];
  if (c.op === 'in') return (c.entities ?? (c.entity ? [c.entity] : [])).map((e) => e.id);
  return [];
}

/**
 * The actions a request can carry and still match the policy's scope: the only requests whose decision the policy
 * takes part in. A mutant that keeps the scope changes decisions only for these; one that changes the scope, only
 * for those of either scope. Cedar evaluates a policy's conditions only when its scope matches, so no other
 * request can see a difference, not even an evaluation error.
 */
export function scopeActions(policy: PolicyJson, catalog: ActionCatalog): string[] {
  const principals = typesOf(policy.principal as Constraint);
  const resources = typesOf(policy.resource as Constraint);
  const c = policy.action as Constraint;
  const named = new Set(namedActions(policy));
  return catalog.actions
    .filter((a) => {
      if (c.op === '==' && !named.has(a.name)) return false;
      if (c.op === 'in' && !named.has(a.name) && ![...a.groups].some((g) => named.has(g))) return false;
      if (principals && !a.principals.some((p) => principals.includes(p))) return false;
      if (resources && !a.resources.some((r) => resources.includes(r))) return false;
      return true;
    })
    .map((a) => a.name);
}
