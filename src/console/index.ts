/** The console module's public surface: other folders import only from here. */
export { CONSOLE_DIST, loadConsoleBundle, registerConsoleRoutes, type ConsoleBundle } from './routes.js';
export { registerFleetRoute } from './fleet.js';
