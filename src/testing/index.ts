/** The testing module's public surface: other folders import only from here. */
export { freePort, startPeer, startTestCarapace, testEngines } from './carapace.js';
export type { TestCarapace } from './carapace.js';
export { caCertificate, foreignCa, leafCertificate, signLeaf, testKey } from './certificates.js';
export { dropTestDatabase, testDatabases, testDatabaseSettings } from './databases.js';
export { rawRequest } from './raw-request.js';
export { memoryAuditKeys } from './audit-keys.js';
export { type DnsAnswers, startDnsServer, type TestDnsServer } from './dns-server.js';
export { testOutbound } from './outbound.js';
