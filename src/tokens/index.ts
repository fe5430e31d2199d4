/**
 * Access tokens as every resource server sees them: audiences and scopes, the ACR values, the one verifier
 * (RFC 9068 JWTs bound by DPoP or mTLS) and the verified token of a request. Light on purpose (jose only): the
 * policy module and the route framework use it without loading the authorization server (oidc-provider).
 */
export { ACR } from './acr.js';
export { tokenOf } from './request-token.js';
export {
  API_AUDIENCE,
  DEVICE_SCOPES,
  OPENID_SCOPES,
  RESOURCES,
  USER_SCOPES,
  type ResourceIndicator,
} from './scopes.js';
export {
  createTokenVerifier,
  TokenRefusal,
  type ReplayStore,
  type TokenVerifier,
  type VerifiedToken,
} from './verifier.js';
