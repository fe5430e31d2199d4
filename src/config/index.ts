export { loadConfig, listOptions, type ConfigSources } from './load.js';
export { type Config, configSchema, type FederatedIssuerSettings, FEDERATION_ALGORITHMS } from './schema.js';
export { renderConfigReference } from './reference.js';
export { parseDuration, formatDuration } from './option.js';
