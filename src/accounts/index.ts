/**
 * The account API over the identity directory: self-service (`/v1/me`, sign-in factors, invitations) and account
 * administration. Apart from identity because it is built on the authorization server and the policies, which are
 * themselves built on identity.
 */
export { registerAccountRoutes } from './account-routes.js';
export { registerMeRoute } from './me-routes.js';
