import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicySet } from './policy-set.js';

const NS = 'Carapace';

/** An entity reference in Carapace's namespace. */
export interface EntityRef {
  type: string;
  id: string;
}

/** One entity handed to Cedar: its attributes and parents (hierarchy). */
export interface Entity {
  uid: EntityRef;
  attrs: Record<string, cedar.CedarValueJson>;
  parents?: EntityRef[];
}

/** One authorization question. */
export interface AuthorizationQuestion {
  principal: EntityRef;
  action: string;
  resource: EntityRef;
  context: Record<string, cedar.CedarValueJson>;
  entities: Entity[];
}

/** The answer: the decision, the policies that decided it, and the policy version that was evaluated. */
export interface Decision {
  decision: 'allow' | 'deny';
  /** Ids (`@id`) of the policies that determined the decision; empty for a default deny. */
  reasons: string[];
  /** Why evaluation failed, when it did; a failure is always a deny. */
  errors: string[];
  policyVersion: string;
}

/** A Cedar entity reference in the JSON form, qualified with the namespace. */
export function ref(type: string, id: string): { __entity: { type: string; id: string } } {
  return { __entity: { type: `${NS}::${type}`, id } };
}

const uid = (r: EntityRef) => ({ type: `${NS}::${r.type}`, id: r.id });

/**
 * Evaluates one question against the preparsed policy set. It fails closed: a malformed request, an
 * entity that does not match the schema, or an error inside any policy yields deny, never allow.
 */
export function createDecisionPoint(set: PolicySet) {
  return {
    policyVersion: set.version,
    /** Decides one question; never throws. */
    decide(q: AuthorizationQuestion): Decision {
      const deny = (errors: string[]): Decision => ({
        decision: 'deny',
        reasons: [],
        errors,
        policyVersion: set.version,
      });
      try {
        const answer = cedar.statefulIsAuthorized({
          principal: uid(q.principal),
          action: { type: `${NS}::Action`, id: q.action },
          resource: uid(q.resource),
          context: q.context,
          preparsedPolicySetId: set.slices.get(q.action) ?? set.version,
          preparsedSchemaName: set.version,
          validateRequest: true,
          entities: q.entities.map((e) => ({ uid: uid(e.uid), attrs: e.attrs, parents: (e.parents ?? []).map(uid) })),
        });
        if (answer.type === 'failure') return deny(answer.errors.map((e) => e.message));
        const { decision, diagnostics } = answer.response;
        // An erroring policy is skipped by Cedar; if it was a forbid, skipping it could turn deny into allow.
        if (diagnostics.errors.length > 0)
          return deny(diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`));
        return { decision, reasons: [...diagnostics.reason].sort(), errors: [], policyVersion: set.version };
      } catch (err) {
        return deny([err instanceof Error ? err.message : String(err)]);
      }
    },
  };
}

/** The decision point. */
export type DecisionPoint = ReturnType<typeof createDecisionPoint>;
