import type { Kysely } from 'kysely';
import { createAuditLog } from '../audit/index.js';
import { loadConfig } from '../config/index.js';
import { createOutbound, type Outbound, type OutboundInjection } from '../outbound/index.js';
import { createLogger, type Logger, systemClock } from '../platform/index.js';
import type { Database } from '../storage/index.js';

/**
 * An outbound layer over a test database, built the way the platform builds it: `settings` are `outbound.*`
 * configuration overrides (validated like a file's), `inject` the test-only parts.
 */
export function testOutbound(
  db: Kysely<Database>,
  options: {
    mode?: 'development' | 'production';
    settings?: Record<string, unknown>;
    inject?: OutboundInjection;
    log?: Logger;
  } = {},
): Outbound {
  const config = loadConfig({ overrides: { mode: options.mode ?? 'development', outbound: options.settings ?? {} } });
  return createOutbound({
    ...options.inject,
    settings: config.outbound,
    mode: config.mode,
    db,
    audit: createAuditLog({ db, clock: systemClock }),
    log: options.log ?? createLogger('silent'),
  });
}
