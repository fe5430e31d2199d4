/** The investigation module's public surface: other folders import only from here. */
export {
  createInvestigator,
  type Investigation,
  type InvestigationQuery,
  type Investigator,
  LIMITS,
  NOT_RECORDED,
  type Pivot,
  PIVOTS,
} from './investigate.js';
export { DEFAULT_FOLLOW, FOLLOWABLE, type Followable } from './expand.js';
export { registerInvestigationRoutes } from './routes.js';
