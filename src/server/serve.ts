import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { buildListeners, closeListeners, type Listeners, type ListeningAddresses, listen } from './listeners.js';
import { ensureDevelopmentOperator, type OperatorCredentialFiles } from './operator-credentials.js';
import { createPlatform, type Platform, type PlatformOptions } from './platform.js';
import { resolveServerTls, type ServerTls } from './tls-material.js';
import { directoryIsEmpty, type SeedResult, seedFromFile } from './seeding.js';
import { fileURLToPath } from 'node:url';
import { seedDemoOperators } from '../operators/index.js';

/** The demo scenario shipped with the package (the same path from src/ and dist/). */
export const DEMO_SCENARIO = new URL('../../scenarios/demo.yaml', import.meta.url);

/** A running Carapace: platform, listeners and their addresses. */
export interface RunningCarapace {
  platform: Platform;
  listeners: Listeners;
  addresses: ListeningAddresses;
  tls: ServerTls;
  /** The development operator's credentials (null in production). */
  operator: OperatorCredentialFiles | null;
  /** What was seeded at this start (null unless a development database was empty). */
  seeded: SeedResult | null;
  close(): Promise<void>;
}

/** Starts everything: storage and migrations, PKI, server TLS, the three listeners, revocation sync. */
export async function startCarapace(
  config: Config,
  options: Omit<PlatformOptions, 'sqliteFile'>,
): Promise<RunningCarapace> {
  const platform = await createPlatform(config, options);
  try {
    const tls = await resolveServerTls(config, platform.pki);
    // The trust anchor for clients (curl --cacert, devices) sits next to the server certificate.
    writeFileSync(join(config.dataDir, 'pki', 'ca.pem'), platform.pki.ctx.authorities.root.pem);
    const operator =
      config.mode === 'development'
        ? await ensureDevelopmentOperator(platform.pki, config.dataDir, platform.operators.directory)
        : null;

    const seeded =
      config.mode === 'development' && config.seedDemo && (await directoryIsEmpty(platform))
        ? await seedFromFile(platform, fileURLToPath(DEMO_SCENARIO))
        : null;
    // The demo's operators, one per role (public credentials, development only), beside the demo's people.
    if (seeded) await seedDemoOperators({ directory: platform.directory, operators: platform.operators.directory });
    const listeners = buildListeners(platform, tls);
    const addresses = await listen(listeners, config).catch(async (err: unknown) => {
      await closeListeners(listeners);
      throw err;
    });
    await platform.pki.start();
    await platform.commands.start();
    platform.evidence.start();
    platform.siem.start();
    platform.versionUsage.start();
    if (config.detect.enabled) platform.detect.start();
    platform.webhooks.start();
    // After the listeners: the governance numbers read every listener's routes.
    await listeners.governanceHistory.start();
    return {
      platform,
      listeners,
      addresses,
      tls,
      operator,
      seeded,
      async close() {
        await closeListeners(listeners, config.connections.shutdownTimeoutMs);
        await platform.close();
      },
    };
  } catch (err) {
    await platform.close();
    throw err;
  }
}
