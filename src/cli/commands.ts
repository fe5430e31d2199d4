import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writePrivateFile } from '../platform/index.js';
import { recentJobsOf } from '../commands/index.js';
import { runFleet, unitsIn } from '../simulator/index.js';
import { clientEndpoints } from '../config/index.js';
import { configFrom, type GlobalOptions, withPlatform } from './context.js';

const OPERATOR = `cli:${process.env.USER ?? 'unknown'}`;

/** `carapace commands …` (keys, jobs) and `carapace simulate` (a simulated fleet built on the vehicle SDK). */
export function registerCommands(program: Command): void {
  const commands = program.command('commands').description('Remote commands: signing keys and jobs.');
  commands
    .command('rotate-key')
    .description(
      'Rotate the command signing key: the pre-published next key starts signing at once and a new next key is ' +
        'created; connected vehicles receive the signed new set over their command channel. Refused while an active ' +
        'vehicle has not confirmed the next key (it would refuse every command with unknown_key), unless --force.',
    )
    .option('--force', 'rotate even if some active vehicles have not confirmed the next key')
    .action(async (opts: { force?: boolean }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        const c = await p.commands.keys.coverage();
        process.stdout.write(`${c.withNext} of ${c.active} active vehicles have confirmed the next key ${c.next}\n`);
        if (c.withNext < c.active && !opts.force) {
          process.stderr.write(
            `refused: ${c.active - c.withNext} vehicles would refuse every command (unknown_key) after this rotation ` +
              `(first: ${c.without.slice(0, 5).join(', ')}). Let them connect, or pass --force.\n`,
          );
          process.exitCode = 1;
          return;
        }
        const r = await p.commands.keys.rotate(OPERATOR);
        process.stdout.write(`command key ${r.current} signs now; ${r.next} is published as next\n`);
      });
    });
  commands
    .command('keys')
    .description('Print the published command-verification keys (JWKS, each with its certificate from the root CA).')
    .action(async (_o: unknown, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        process.stdout.write(`${JSON.stringify({ keys: await p.commands.keys.published() }, null, 2)}\n`);
      });
    });
  commands
    .command('list')
    .description("List a vehicle's command jobs with their transitions, newest first, as JSON lines.")
    .requiredOption('--vehicle <id>', 'vehicle id')
    .option('--limit <n>', 'how many', '20')
    .action(async (opts: { vehicle: string; limit: string }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        for (const job of await recentJobsOf(p.storage.db, opts.vehicle, Number(opts.limit)))
          process.stdout.write(`${JSON.stringify(job)}\n`);
      });
    });

  program
    .command('simulate')
    .description(
      'Run a simulated fleet against a running Carapace: each vehicle enrolls (or resumes), keeps its command ' +
        'channel, streams signed telemetry and executes verified commands. Uses the factory credentials under ' +
        '<dataDir>/factory (the demo units) and provisions more units (SIM-*) when --vehicles asks for more.',
    )
    .option('--vehicles <n>', 'how many vehicles', '7')
    .option('--gateway <url>', 'the vehicle gateway (default: from the configuration, as the server listens)')
    .option(
      '--ca <file>',
      'the root CA the vehicles trust, the anchor of the command keys (default: <dataDir>/pki/ca.pem)',
    )
    .option('--interval <seconds>', 'telemetry interval', '5')
    .option('--moving <n>', 'how many vehicles are on a trip (never the demo cars, which come first)', '0')
    .action(
      async (
        opts: { vehicles: string; gateway?: string; ca?: string; interval: string; moving: string },
        cmd: Command,
      ) => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const config = configFrom(global);
        const factoryDir = join(config.dataDir, 'factory');
        const want = Number(opts.vehicles);
        let units = unitsIn(factoryDir, join(config.dataDir, 'simulator'));
        if (units.length < want) {
          // More units than the demo has: provision them like the manufacturing line would (pki factory-cert).
          await withPlatform(global, async (p) => {
            for (let i = units.length; i < want; i++) {
              const serial = `SIM-${String(i).padStart(5, '0')}-${Math.random().toString(36).slice(2, 6).toUpperCase()}`;
              const issued = await p.pki.issueFactoryCertificate({
                tcuSerial: serial,
                csrPem: null,
                binding: { newVehicle: true },
                actor: { type: 'operator', id: OPERATOR },
              });
              const dir = join(factoryDir, serial);
              mkdirSync(dir, { recursive: true, mode: 0o700 });
              writeFileSync(join(dir, 'factory-cert.pem'), issued.certificatePem);
              if (issued.privateKeyPem) writePrivateFile(join(dir, 'factory-key.pem'), issued.privateKeyPem);
            }
          });
          units = unitsIn(factoryDir, join(config.dataDir, 'simulator'));
        }
        units = units.slice(0, want);
        const at = clientEndpoints(config);
        const ca = readFileSync(opts.ca ?? at.caFile, 'utf8');
        const moving = Math.min(Number(opts.moving), units.length);
        const fleet = await runFleet({
          // Demo cars first and parked; the simulated trips go to the last vehicles.
          units: [...units.slice(units.length - moving), ...units.slice(0, units.length - moving)],
          gatewayUrl: opts.gateway ?? at.gateway,
          ca,
          intervalSeconds: Number(opts.interval),
          moving,
          onEvent: (serial, e) => {
            if (e.kind !== 'open') process.stdout.write(`${new Date().toISOString()} ${serial} ${JSON.stringify(e)}\n`);
          },
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(
          `simulating ${fleet.vehicles.length} vehicle(s): ${fleet.vehicles.map((v) => `${v.unit.serial}=${v.vehicleId}`).join(' ')}\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        fleet.stop();
      },
    );
}
