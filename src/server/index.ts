/** The server module's public surface: other folders import only from here. */
export { auditCheckpointFile, createPlatform } from './platform.js';
export type { Platform } from './platform.js';
export { formatPersonas, seedFromFile, seedParsedScenario } from './seeding.js';
export { DEMO_SCENARIO, startCarapace } from './serve.js';
export type { RunningCarapace } from './serve.js';
export { resolveServerTls } from './tls-material.js';
export { allMigrations, migrateDatabase } from './schema.js';
export { readScenario, seedScenario, ScenarioSchema, type Scenario, type Persona } from './scenario.js';
export { createAuthorizationFacts } from './authorization-facts.js';
export { routeCatalog } from './route-catalog.js';
