// Types for the oidc-provider 9 helpers its own grants use (lib/helpers/grants.js and grant_common.js). The package
// ships no types for them; only token-exchange.ts uses them, through provider-internals.ts.
declare module 'oidc-provider/lib/helpers/grants.js' {
  import type Provider from 'oidc-provider';
  import type { KoaContextWithOIDC, ResourceServerInstance } from 'oidc-provider';
  /** A verified DPoP proof: the key thumbprint tokens are bound to, and the proof's jti. */
  export interface DpopResult {
    thumbprint: string;
    jti: string;
    iat: number;
  }
  export function validateDpop(provider: Provider, ctx: KoaContextWithOIDC): Promise<DpopResult | undefined>;
  export function checkDpopRequired(provider: Provider, ctx: KoaContextWithOIDC, dPoP: DpopResult | undefined): void;
  export function resolveRequestedResources(
    provider: Provider,
    ctx: KoaContextWithOIDC,
  ): Promise<ResourceServerInstance[]>;
  export function validateClientScope(provider: Provider, ctx: KoaContextWithOIDC, scopes?: string): Set<string>;
}

declare module 'oidc-provider/lib/helpers/grant_common.js' {
  import type Provider from 'oidc-provider';
  import type { KoaContextWithOIDC } from 'oidc-provider';
  import type { DpopResult } from 'oidc-provider/lib/helpers/grants.js';
  export function applyDpopBinding(
    provider: Provider,
    ctx: KoaContextWithOIDC,
    dPoP: DpopResult | undefined,
    token: InstanceType<Provider['AccessToken']>,
  ): Promise<void>;
}
