import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { currentTotp } from '../identity/index.js';
import { clientEndpoints, type Config } from '../config/index.js';
import { DEMO_OPERATORS } from '../operators/index.js';
import { CarapaceError } from '../platform/index.js';
import { DEMO_SCENARIO, readScenario } from '../server/index.js';
import { runFleet, unitsIn } from '../simulator/index.js';
import { configFrom, type GlobalOptions } from './context.js';
import { runServer } from './serve.js';

// The operator the banner and the README sign in with: every page, and the actions of a security admin.
const DEMO_CONSOLE_OPERATOR = DEMO_OPERATORS.find((o) => o.role === 'security_admin') ?? DEMO_OPERATORS[0]!;

function refuseInProduction(config: Config, what: string): void {
  if (config.mode === 'production')
    throw new CarapaceError(
      'ERR_FORBIDDEN',
      `production mode refuses ${what}: the demo's credentials are public (run \`carapace serve\`)`,
    );
}

/** The TCU serials of the demo's own cars, from the shipped scenario. */
function demoSerials(): Set<string> {
  const scenario = readScenario(fileURLToPath(DEMO_SCENARIO));
  return new Set((scenario.vehicles ?? []).flatMap((v) => (v.tcuSerial ? [v.tcuSerial] : [])));
}

/** True when something accepts TCP connections on the port (a running server would be using the data). */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** `carapace demo` (server and simulated fleet), `demo reset` (fresh demo data) and `demo code` (TOTP codes). */
export function registerDemo(program: Command): void {
  const demo = program
    .command('demo')
    .description(
      'Run Carapace with the demo: the three listeners, the demo personas (seeded into an empty database) and a ' +
        'simulated fleet of the demo cars that streams signed telemetry and executes verified commands. ' +
        'Development mode only.',
    )
    .option('--interval <seconds>', 'telemetry interval of the simulated cars', '5')
    .option('--no-fleet', 'run the server only, as `carapace serve` does')
    .action(async (opts: { interval: string; fleet: boolean }, cmd: Command) => {
      const config = configFrom(cmd.optsWithGlobals<GlobalOptions>());
      refuseInProduction(config, 'the demo');
      const running = await runServer(config);
      if (!opts.fleet) return;
      const at = clientEndpoints(config);
      // Only the demo's cars: a unit made with `pki factory-cert` for the README's device flow is the user's to enroll.
      const serials = demoSerials();
      const units = unitsIn(join(config.dataDir, 'factory'), join(config.dataDir, 'simulator')).filter((u) =>
        serials.has(u.serial),
      );
      const say = (line: string) => process.stderr.write(`fleet: ${line}\n`);
      const fleet = await runFleet({
        units,
        gatewayUrl: at.gateway,
        ca: readFileSync(at.caFile, 'utf8'),
        intervalSeconds: Number(opts.interval),
        moving: 0,
        onEvent: (serial, e) => {
          if (e.kind === 'executed')
            say(`${serial} executed ${e.command} (job ${e.jobId}): ${JSON.stringify(e.result)}`);
          if (e.kind === 'refused') say(`${serial} refused a command (job ${e.jobId ?? '-'}): ${e.code}`);
        },
        log: say,
      });
      say(
        `${fleet.vehicles.length} demo car(s) online, telemetry every ${opts.interval} s: ` +
          fleet.vehicles.map((v) => v.unit.serial).join(' '),
      );
      running.onStop(() => fleet.stop());
    });

  demo
    .command('reset')
    .description(
      'Delete the demo data (the data directory: database, development PKI, demo credentials, simulator state), so ' +
        'the next `carapace demo` or `npm start` seeds a fresh demo. Refused in production, with a database URL, or ' +
        'while a server is listening on the configured ports.',
    )
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (opts: { yes?: boolean }, cmd: Command) => {
      const config = configFrom(cmd.optsWithGlobals<GlobalOptions>());
      refuseInProduction(config, 'to reset');
      if (config.database.url)
        throw new CarapaceError(
          'ERR_FORBIDDEN',
          'demo reset removes the embedded SQLite demo only; with a database URL, drop that schema yourself',
        );
      for (const l of Object.values(config.listeners))
        if (await listening(l.host, l.port))
          throw new CarapaceError(
            'ERR_CONFLICT',
            `something is listening on port ${l.port}: stop the running Carapace first, then reset`,
          );
      const dir = resolve(config.dataDir);
      if (!existsSync(dir) || readdirSync(dir).length === 0) {
        process.stdout.write(`nothing to reset: ${dir} is empty or missing\n`);
        return;
      }
      // Only a directory that looks like Carapace's: a wrong CARAPACE_DATA_DIR must not delete someone's files.
      if (!existsSync(join(dir, 'pki')) && !existsSync(join(dir, 'carapace.sqlite')))
        throw new CarapaceError('ERR_VALIDATION', `${dir} does not look like a Carapace data directory; not removed`);
      if (!opts.yes) {
        if (!process.stdin.isTTY)
          throw new CarapaceError('ERR_VALIDATION', 'demo reset deletes data: confirm with --yes');
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`Delete ${dir} (database, PKI, demo credentials)? Type "reset": `);
        rl.close();
        if (answer.trim() !== 'reset') {
          process.stdout.write('not reset\n');
          process.exitCode = 1;
          return;
        }
      }
      const removed = readdirSync(dir);
      rmSync(dir, { recursive: true, force: true });
      process.stdout.write(
        `demo reset: removed ${dir} (${removed.join(', ')}). The next \`npm start\` seeds a fresh demo ` +
          'with new CAs, so clients must trust the new <dataDir>/pki/ca.pem.\n',
      );
    });

  demo
    .command('code')
    .description(
      'Print the current one-time code of a demo person or operator (their TOTP secrets are public), in place of ' +
        'an authenticator app. Development mode only.',
    )
    .argument('[email]', 'whose code', DEMO_CONSOLE_OPERATOR.email)
    .action((email: string, _o: unknown, cmd: Command) => {
      const config = configFrom(cmd.optsWithGlobals<GlobalOptions>());
      refuseInProduction(config, 'to print codes');
      const people = [
        ...DEMO_OPERATORS,
        ...(readScenario(fileURLToPath(DEMO_SCENARIO)).users ?? []).map((u) => ({ email: u.email, totp: u.totp })),
      ];
      const secret = people.find((p) => p.email === email)?.totp;
      if (!secret) throw new CarapaceError('ERR_NOT_FOUND', `${email} is not a demo account with a second factor`);
      const now = Date.now();
      const left = 30 - (Math.floor(now / 1000) % 30);
      process.stdout.write(`${currentTotp(secret, new Date(now))}\n`);
      process.stderr.write(`(${email}; valid for ${left} s more, and once)\n`);
    });
}
