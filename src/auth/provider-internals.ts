/**
 * The oidc-provider 9 helpers its built-in grants use, for the one grant Carapace adds (token exchange), so it
 * validates DPoP proofs, resources and scopes exactly as the code and refresh grants do. Deep imports of the
 * library's own files (the package has no `exports` map): pinned to oidc-provider 9, and wrapped here once.
 */
export {
  checkDpopRequired,
  resolveRequestedResources,
  validateClientScope,
  validateDpop,
} from 'oidc-provider/lib/helpers/grants.js';
export type { DpopResult } from 'oidc-provider/lib/helpers/grants.js';
export { applyDpopBinding } from 'oidc-provider/lib/helpers/grant_common.js';
