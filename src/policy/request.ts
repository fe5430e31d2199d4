import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { ACR } from '../tokens/index.js';
import type { AuthorizationQuestion, Entity } from './decision-point.js';
import type { LoadedResource } from './entities.js';

/** What a request's token says about the session: its client, its scopes and how the person signed in. */
export interface TokenFacts {
  clientId: string;
  scopes: Iterable<string>;
  /** The authentication context class of the sign-in, or null for a token without a person. */
  acr: string | null;
  /** When the person signed in (`auth_time`, epoch seconds); refreshing a token never moves it. */
  authTime?: number | null;
}

/** The clock and the step-up window against which the age of a sign-in is judged. */
export interface Freshness {
  nowSeconds: number;
  /** `commands.stepUpMaxAge`: how old a sign-in (and its second factor) may be for a critical action. */
  stepUpMaxAge: number;
}

/**
 * The age facts of a sign-in, in seconds: `signInAge` whenever the token names its `auth_time`, `mfaAge` when that
 * sign-in used a second factor, and the window they are judged against. Without a clock nothing is added, and
 * the guardrails that need them forbid (fail closed).
 */
function ageContext(token: TokenFacts, freshness: Freshness | undefined): Record<string, CedarValueJson> {
  if (!freshness || typeof token.authTime !== 'number') return {};
  // A sign-in stamped slightly ahead of this node's clock is as fresh as one stamped now.
  const age = Math.max(0, Math.floor(freshness.nowSeconds - token.authTime));
  return {
    signInAge: age,
    ...(token.acr === ACR.mfa ? { mfaAge: age } : {}),
    stepUpMaxAge: freshness.stepUpMaxAge,
  };
}

/**
 * The one builder of Cedar requests: a route's check, list filtering and the dispatcher's re-check all
 * ask with the same principal, resource, context and entities, so a rule means the same wherever it runs.
 */
export function cedarRequest(args: {
  principal: Entity;
  action: string;
  resource: LoadedResource;
  token: TokenFacts;
  /** The caller's own relationship records for the resource (`EntityLoader.callerContext`). */
  caller: { context: Record<string, CedarValueJson>; entities: Entity[] };
  command?: string | null;
  extra?: Record<string, CedarValueJson>;
  /** When given, the sign-in's age goes into the context (see `ageContext`). */
  freshness?: Freshness;
}): AuthorizationQuestion {
  const { command = null } = args;
  return {
    principal: args.principal.uid,
    action: args.action,
    resource: args.resource.uid,
    context: {
      client: args.token.clientId,
      scopes: [...new Set(args.token.scopes)].sort(),
      mfa: args.token.acr === ACR.mfa,
      ...(command !== null ? { command } : {}),
      ...args.caller.context,
      ...args.extra,
      // Last, so no caller-supplied extra context can claim a younger sign-in.
      ...ageContext(args.token, args.freshness),
    },
    entities: [args.principal, ...args.resource.entities, ...args.caller.entities],
  };
}
