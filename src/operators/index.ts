/** The operators module's public surface: other folders import only from here. */
import type { Kysely } from 'kysely';
import type { DecisionPoint, PolicySet } from '../policy/index.js';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { createApprovals } from './approvals.js';
import type { OperatorAuditLog } from './audit-events.js';
import { createAdminAuthorization } from './authorization.js';
import { createOperatorSessions, type OperatorTimings } from './sessions.js';
import { createOperatorDirectory } from './store.js';

export { OPERATORS_AUDIT_EVENTS, type OperatorAuditEvent, type OperatorAuditLog } from './audit-events.js';
export {
  adminExpectations,
  createAdminAuthorization,
  type AdminAuthorization,
  type AdminFacts,
  type AdminNeed,
  type AdminPermission,
  type RoleExpectation,
} from './authorization.js';
export { createApprovals, type Approvals, type ApprovalView } from './approvals.js';
export { consoleSignInTarget, ensureConsoleClient } from './console-client.js';
export { DEMO_OPERATORS, seedDemoOperators } from './demo.js';
export { operatorMigrations } from './migrations.js';
export { cookieOf, operatorActor, operatorOf, SESSION_COOKIE, type Operator } from './principal.js';
export { type MayTake, operatorMayTake, registerOperatorRoutes } from './routes.js';
export { registerSignInRoutes, SIGN_IN_CALLBACK, type SignInTarget } from './sign-in.js';
export { createOperatorSessions, type OperatorSessions, type OperatorTimings } from './sessions.js';
export {
  createOperatorDirectory,
  parseRoles,
  secretHash,
  type OperatorActor,
  type OperatorDirectory,
  type OperatorRecord,
} from './store.js';
export { OPERATOR_ROLES, type OperatorRole, type OperatorTables } from './tables.js';

/** Everything the operators module runs: the operator list, sessions and elevations, approvals, decisions. */
export function createOperators(deps: {
  db: Kysely<Database>;
  audit: OperatorAuditLog;
  clock: Clock;
  timings: OperatorTimings;
  decisions: Pick<DecisionPoint, 'decide'>;
  policySet: PolicySet;
}) {
  const { db, audit, clock } = deps;
  const authorization = createAdminAuthorization({ decisions: deps.decisions, policySet: deps.policySet });
  const fleetWide = authorization.fleetWideActions();
  return {
    directory: createOperatorDirectory({ db, audit, clock }),
    sessions: createOperatorSessions({ db, audit, clock, timings: deps.timings }),
    approvals: createApprovals({ db, audit, clock, ttlSeconds: deps.timings.approvalTtl, fleetWide: () => fleetWide }),
    authorization,
    audit,
  };
}

/** The operators module as the platform holds it. */
export type Operators = ReturnType<typeof createOperators>;
