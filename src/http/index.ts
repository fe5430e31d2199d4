/** The http module's public surface: other folders import only from here. */
export { authenticateUnmatched, createListenerApp, DEFAULT_CONNECTION_LIMITS, pinHost } from './app.js';
export type { ConnectionGuard, ConnectionLimits } from './connection-guard.js';
export type { App, ListenerApp } from './app.js';
export type { CallerType, CatalogEntry, CatalogedRoute, Deprecation, InventoryFacts, RouteFacts } from './catalog.js';
export { httpDate, isRetired } from './versions.js';
export type { DeprecatedCall, ListenerVersions } from './versions.js';
export { requestContext } from './context.js';
export type { RequestObserver } from './context.js';
export { registerHealth } from './health.js';
export type { ReadinessChecks, ReadinessDetails } from './health.js';
export { sendProblem } from './problem.js';
export { auditIdentity, refuseRequest } from './refusal.js';
export type { Refusal } from './refusal.js';
export { Binary, createRegistrar, RouteDefinitionError } from './route-definition.js';
export type {
  Authentication,
  Handler,
  ListenerSecurity,
  RequestHook,
  RouteDeclaration,
  RouteRegistrar,
  TokenRequirement,
} from './route-definition.js';
