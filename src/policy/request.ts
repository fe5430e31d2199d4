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
    },
    entities: [args.principal, ...args.resource.entities, ...args.caller.entities],
  };
}
