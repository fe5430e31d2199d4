export { runMatrix, summaryLine } from './runner.js';
export type { MatrixReport, Cell } from './cells.js';
export { MATRIX_ROUTES, type MatrixRoute } from './routes.js';
export { PERMITS } from './oracle.js';
export { World } from './world.js';
export { APP_FOR_ROLE } from './world.js';
export {
  ADMIN_RULES,
  DEVICE_RELEASE,
  DEVICE_RETIRE,
  adminOutcome,
  type AdminRole,
  type AdminRule,
} from './admin-rules.js';
export { ADMIN_PROBES, type AdminObject, type AdminProbe } from './admin-routes.js';
export {
  adminSummaryLine,
  expectedOf,
  runAdminMatrix,
  type AdminCaller,
  type AdminCell,
  type AdminFixtures,
  type AdminMatrixReport,
} from './admin-runner.js';
export { ORACLE_CHANGE_RECORD, unexplainedOracleChanges, type UnexplainedOracleChange } from './oracle-history.js';
export { signInAll, type Caller, type Target } from './sessions.js';
export { resolveIds, type Ids } from './resolve.js';
export { expect as expectedAccess, type Expectation } from './oracle.js';
export { NO_JOB, type ObjectKind } from './routes.js';
