export {
  actionsFor,
  loadPolicySet,
  schemaActions,
  PolicySetError,
  DEFAULT_POLICY_DIR,
  type PolicySet,
} from './policy-set.js';
export {
  createDecisionPoint,
  type DecisionPoint,
  type Decision,
  type AuthorizationQuestion,
  type Entity,
  type EntityRef,
  ref,
} from './decision-point.js';
export {
  createEntityLoader,
  groupResource,
  type EntityLoader,
  type Principal,
  type LoadedResource,
} from './entities.js';
export { createEntityCache, ENTITY_CACHE_LIMIT, type EntityCache } from './entity-cache.js';
export {
  decidedPage,
  MAX_PAGE,
  PageQuery,
  pageCursor,
  pageLimit,
  plainPage,
  SCAN_MAX,
  type PagePosition,
} from './pages.js';
export {
  objectAuthorization,
  type ApiRoutes,
  authorizedOf,
  decideEach,
  notFound,
  type AuthorizeSpec,
  type Authorized,
} from './enforcement.js';
export { apiRoute, load, param, closed, NoQuery, Id, NullableString } from './route-kit.js';
export { cedarRequest, type TokenFacts } from './request.js';
export { REQUIRED_POLICIES } from './required-policies.js';
export { POLICY_AUDIT_EVENTS, type PolicyAuditEvent, type PolicyAuditLog } from './audit-events.js';
export type { AuthorizationFacts, RelationshipQuery } from './facts.js';
