export { loadConfig, listOptions, type ConfigSources } from './load.js';
export { type Config, configSchema } from './schema.js';
export { type FederatedIssuerSettings, FEDERATION_ALGORITHMS } from './federation-settings.js';
export { renderConfigReference } from './reference.js';
export { parseDuration, formatDuration } from './option.js';
export { clientEndpoints, type ClientEndpoints } from './endpoints.js';
export { defaultPublicBaseUrl } from './load.js';
