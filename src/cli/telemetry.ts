import type { Command } from 'commander';
import { untrusted } from '../audit/index.js';
import { CarapaceError } from '../platform/index.js';
import { type GlobalOptions, withPlatform } from './context.js';

const OPERATOR = { type: 'operator' as const, id: `cli:${process.env.USER ?? 'unknown'}` };

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `carapace telemetry …`: quarantines (list, release) and a vehicle's last known state. */
export function registerTelemetry(program: Command): void {
  const telemetry = program.command('telemetry').description('Signed telemetry: quarantines and vehicle state.');

  telemetry
    .command('quarantines')
    .description(
      'List devices quarantined by telemetry (repeated bad signatures or identity mismatches), newest first.',
    )
    .option('--all', 'include released quarantines')
    .option('--device <id>', 'only this device')
    .action(async (opts: { all?: boolean; device?: string }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        print(await p.telemetry.quarantine.list({ open: !opts.all, deviceId: opts.device }));
      });
    });

  telemetry
    .command('release')
    .description(
      'Release a quarantined device (a security admin decision, audited): its telemetry and commands are accepted ' +
        'again. Running servers apply it within the revocation poll interval, or at once with Redis.',
    )
    .requiredOption('--device <id>', 'device id')
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .action(async (opts: { device: string; reason: string }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        print(
          await p.telemetry.quarantine.release({
            deviceId: opts.device,
            actor: OPERATOR,
            reason: untrusted(opts.reason, 500),
            context: null,
          }),
        );
      });
    });

  telemetry
    .command('state')
    .description("Print a vehicle's last known state from accepted telemetry, each field with the time of its message.")
    .requiredOption('--vehicle <id>', 'vehicle id')
    .action(async (opts: { vehicle: string }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        const state = await p.telemetry.vehicleState(opts.vehicle);
        if (!state) throw new CarapaceError('ERR_NOT_FOUND', 'no telemetry state for that vehicle');
        print(state);
      });
    });
}
