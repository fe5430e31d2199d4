/** The cli module's public surface: other folders import only from here. */
export { buildProgram } from './program.js';
export { seedDrill } from './drill.js';
