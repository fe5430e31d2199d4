export { runMatrix, summaryLine, type MatrixReport, type Cell } from './runner.js';
export { MATRIX_ROUTES, type MatrixRoute } from './routes.js';
export { PERMITS } from './oracle.js';
export { World } from './world.js';
export { APP_FOR_ROLE } from './world.js';
