export {
  CarapaceClient,
  ServiceSession,
  deviceToken,
  clientCredentialsToken,
  type TokenSet,
  type LoginOptions,
  type ClientOptions,
} from './carapace-client.js';
export { DpopKey } from './dpop.js';
export { totpAuthenticator, type AuthenticatorClock, type TotpSource } from './authenticator.js';
export {
  CarapaceClientError,
  CookieJar,
  keepAliveAgent,
  request,
  type ClientResponse,
  type ClientTls,
} from './http.js';
export {
  MemorySeenStore,
  verifyWebhook,
  WebhookVerificationError,
  type SeenStore,
  type VerifiedWebhook,
  type VerifyWebhookOptions,
  type WebhookKeySet,
  type WebhookRefusal,
} from './webhook-verifier.js';
export type { PublicApiRoutes } from './api-routes.js';
export type { ApiResponse, JsonFor, ProblemBody, RouteFor } from './typed-routes.js';
