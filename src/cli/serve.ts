import type { Command } from 'commander';
import { createLogger } from '../platform/index.js';
import { formatPersonas } from '../server/index.js';
import { startCarapace } from '../server/index.js';
import { configFrom, type GlobalOptions } from './context.js';

function banner(lines: string[]): void {
  process.stderr.write(`${lines.join('\n')}\n`);
}

/** `carapace serve`: runs the three listeners until SIGINT or SIGTERM. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run Carapace: public API, vehicle gateway and admin plane. Applies migrations first.')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const config = configFrom(opts);
      const log = createLogger(config.log.level);
      const running = await startCarapace(config, { log });
      const { addresses, platform, operator, tls } = running;
      const { root } = platform.pki.ctx.authorities;
      const dev = config.mode === 'development';
      banner([
        '',
        'Carapace is running.',
        `  public API      ${addresses.public}      (health: ${addresses.public}/readyz, CRL: ${addresses.public}/pki/crl/fleet.crl)`,
        `  vehicle gateway ${addresses.gateway}      (mTLS: factory certificate to enroll, operational certificate after)`,
        `  admin plane     ${addresses.admin}   (mTLS: operator certificate)`,
        `  storage         ${platform.storage.location}`,
        `  server cert     ${tls.certFile} (${tls.source}); trust anchor: ${config.dataDir}/pki/ca.pem`,
        ...(operator ? [`  operator        --cert ${operator.certFile} --key ${operator.keyFile}`] : []),
        ...(dev
          ? [
              '',
              '  DEVELOPMENT MODE: CA keys are files under ' +
                `${config.dataDir}/pki` +
                '. Never use this mode in production.',
              '',
              'Next: make a factory certificate and enroll a device, as the README shows:',
              '  npx carapace pki factory-cert --serial TCU-0001 --vin 1HGCM82633A004352',
            ]
          : []),
        `Root CA SHA-256 fingerprint: ${root.node.fingerprint256}`,
        ...(running.seeded ? ['', formatPersonas(running.seeded)] : []),
        '',
      ]);
      const stop = async (signal: string) => {
        log.info({ signal }, 'shutting down');
        await running.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
