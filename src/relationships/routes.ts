export { registerSharingRoutes } from './sharing-routes.js';
export { registerFleetRoutes } from './fleet-routes.js';
export { registerCaseRoutes } from './case-routes.js';
