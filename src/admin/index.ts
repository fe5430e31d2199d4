/** The admin module's public surface: other folders import only from here. */
export { operatorAuthentication, operatorOf } from './operator-auth.js';
export { registerAdminRoutes } from './routes.js';
