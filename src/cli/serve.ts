import type { Command } from 'commander';
import { type ClientEndpoints, clientEndpoints, type Config } from '../config/index.js';
import { DEMO_OPERATORS } from '../operators/index.js';
import { createLogger } from '../platform/index.js';
import { formatPersonas, type RunningCarapace, startCarapace } from '../server/index.js';
import { configFrom, type GlobalOptions } from './context.js';

/** A server started from the CLI; `onStop` work runs before the listeners close. */
export interface RunningServer {
  running: RunningCarapace;
  onStop(fn: () => void): void;
}

/** How to sign in to the console, as the banner says it: the demo operator in development, else how to add one. */
function consoleSignIn(config: Config, at: ClientEndpoints): string[] {
  const demo = DEMO_OPERATORS.find((o) => o.role === 'security_admin');
  if (config.mode !== 'development' || !config.seedDemo || !demo)
    return [`  console         ${at.console}   (sign in as an operator: carapace operators add …)`];
  return [
    `  console         ${at.console}`,
    `                  sign in as ${demo.email} / ${demo.password}; the one-time code: npx carapace demo code`,
    `                  (or add TOTP secret ${demo.totp} to an authenticator app; README "Operators and roles")`,
  ];
}

/** The start-up banner, on stderr so that stdout keeps only the JSON logs. */
function banner(config: Config, running: RunningCarapace): string {
  const { addresses, platform, operator, tls } = running;
  const at = clientEndpoints(config);
  const dev = config.mode === 'development';
  return [
    '',
    'Carapace is running.',
    ...consoleSignIn(config, at),
    `  public API      ${addresses.public}      (health: ${addresses.public}/readyz, CRL: ${addresses.public}/pki/crl/fleet.crl)`,
    `  vehicle gateway ${addresses.gateway}      (mTLS: factory certificate to enroll, operational certificate after)`,
    `  admin plane     ${addresses.admin}   (mTLS: operator certificate, or the console sign-in)`,
    `  storage         ${platform.storage.location}`,
    `  server cert     ${tls.certFile} (${tls.source}); trust anchor: ${at.caFile}`,
    ...(operator ? [`  operator        --cert ${operator.certFile} --key ${operator.keyFile}`] : []),
    ...(dev
      ? [
          '',
          `  DEVELOPMENT MODE: CA keys are files under ${config.dataDir}/pki. Never use this mode in production.`,
          '',
          'Next (README "Quick start"): Alice unlocks her car and the car confirms; then see it in the console:',
          '  node --import tsx scripts/command.ts alice@example.com unlock',
          'A fresh demo: stop this server, then npx carapace demo reset',
        ]
      : []),
    `Root CA SHA-256 fingerprint: ${platform.pki.ctx.authorities.root.node.fingerprint256}`,
    ...(running.seeded ? ['', formatPersonas(running.seeded)] : []),
    '',
  ].join('\n');
}

/** Starts the listeners, prints the banner and stops cleanly on SIGINT or SIGTERM. */
export async function runServer(config: Config): Promise<RunningServer> {
  const log = createLogger(config.log.level);
  const running = await startCarapace(config, { log });
  process.stderr.write(`${banner(config, running)}\n`);
  const stopping: Array<() => void> = [];
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    for (const fn of stopping) fn();
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  return { running, onStop: (fn) => stopping.push(fn) };
}

/** `carapace serve`: runs the three listeners until SIGINT or SIGTERM. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run Carapace: public API, vehicle gateway and admin plane. Applies migrations first.')
    .action(async (_opts: unknown, cmd: Command) => {
      await runServer(configFrom(cmd.optsWithGlobals<GlobalOptions>()));
    });
}
