import { runMatrix, summaryLine } from '../authz-matrix/index.js';
import { readScenario } from '../server/index.js';
import { Command, CommanderError, Option } from 'commander';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { rotateSigningKeys } from '../auth/index.js';
import { type ClientEndpoints, clientEndpoints, renderConfigReference } from '../config/index.js';
import { CarapaceError } from '../platform/index.js';
import { openStorage } from '../storage/index.js';
import { migrateDatabase } from '../server/index.js';
import { formatPersonas, seedFromFile } from '../server/index.js';
import { configFrom, type GlobalOptions, withPlatform } from './context.js';
import { registerPki } from './pki.js';
import { registerServe } from './serve.js';
import { registerDemo } from './demo.js';
import { registerTelemetry } from './telemetry.js';
import { registerCommands } from './commands.js';
import { registerAudit } from './audit.js';
import { registerInvestigate } from './investigate.js';
import { registerIncidents } from './incidents.js';
import { registerFindings } from './findings.js';
import { registerWebhooks } from './webhooks.js';
import { registerInventory } from './inventory.js';
import { registerOperators } from './operators.js';
import { registerProbe } from './probe.js';
import { registerMutate } from './mutate.js';

interface MatrixOptions {
  scenario: string;
  report: string;
  url?: string;
  ca?: string;
  partnerKeys?: string;
  mutate?: boolean;
}

const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The endpoints as shell assignments (`eval "$(carapace config endpoints --format env)"`), values single-quoted. */
function endpointsAsShell(at: ClientEndpoints): string {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const names: Array<[string, string]> = [
    ['PUBLIC_URL', at.public],
    ['GATEWAY_URL', at.gateway],
    ['ADMIN_URL', at.admin],
    ['CONSOLE_URL', at.console],
    ['CA_FILE', at.caFile],
    ['OPERATOR_CERT', at.operatorCertFile],
    ['OPERATOR_KEY', at.operatorKeyFile],
  ];
  return names.map(([k, v]) => `${k}=${quote(v)}\n`).join('');
}

/** Where help and errors go; tests capture them. */
export interface CliOutput {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** Builds the `carapace` command tree. */
export function buildProgram(output?: CliOutput): Command {
  const program = new Command('carapace');
  // Set before any subcommand exists, so every subcommand inherits them.
  program.exitOverride();
  if (output) program.configureOutput(output);
  program
    .description('Zero-trust platform core for connected vehicles.')
    .version(PACKAGE.version, '-V, --version', 'print the version (from package.json)')
    .option('-c, --config <file>', 'YAML or JSON configuration file (see docs/configuration.md); also CARAPACE_CONFIG')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  registerServe(program);
  registerDemo(program);

  program
    .command('migrate')
    .description('Apply pending database migrations (serve also does this at start).')
    .action(async (_o: unknown, cmd: Command) => {
      const config = configFrom(cmd.optsWithGlobals<GlobalOptions>());
      const storage = await openStorage({
        url: config.database.url,
        schema: config.database.schema,
        dataDir: config.dataDir,
      });
      try {
        const report = await migrateDatabase(storage.db, { schema: storage.schema });
        process.stdout.write(
          `${storage.location}: applied ${report.applied.length} migration(s); ${report.total} known\n`,
        );
      } finally {
        await storage.close();
      }
    });

  registerPki(program);
  registerTelemetry(program);
  registerCommands(program);
  registerWebhooks(program);

  program
    .command('seed')
    .description(
      'Load a scenario file (tenants, users, applications, vehicles and their units) and print its personas. ' +
        'Refused in production.',
    )
    .argument('<file>', 'scenario YAML, e.g. scenarios/demo.yaml')
    .action(async (file: string, _o: unknown, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        process.stdout.write(`${formatPersonas(await seedFromFile(p, file))}\n`);
      });
    });

  const auth = program.command('auth').description('The authorization server.');
  auth
    .command('rotate-signing-key')
    .description(
      'Rotate the token signing key: the pre-published next key starts signing after a (rolling) restart; the old ' +
        'one stays published until its tokens expire.',
    )
    .action(async (_o: unknown, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        const { current } = await rotateSigningKeys({
          db: p.storage.db,
          dir: join(p.config.dataDir, 'pki', 'token-signing'),
          clock: p.clock,
          audit: p.audit,
        });
        process.stdout.write(
          `signing key ${current} is current; restart each Carapace process (one at a time) to sign with it\n`,
        );
      });
    });

  registerAudit(program);
  registerInvestigate(program);
  registerIncidents(program);
  registerFindings(program);
  registerInventory(program);
  registerOperators(program);
  registerProbe(program);
  registerMutate(program);

  program
    .command('authz-matrix')
    .description(
      'Run the authorization matrix against a running deployment seeded with a scenario: every persona x object x ' +
        'route. With --mutate also the time-dependent cells, which change state (revoke a consent, close cases, ' +
        "transfer Alice's car): then use a staging deployment, or `carapace demo reset` afterwards.",
    )
    .requiredOption('--scenario <file>', 'the scenario the deployment was seeded with', 'scenarios/demo.yaml')
    .requiredOption('--report <file>', 'where to write the JSON report')
    .option('--url <url>', 'the public listener (default: publicBaseUrl of the configuration)')
    .option('--ca <file>', 'the CA that signed the server certificate (default: <dataDir>/pki/ca.pem)')
    .option('--partner-keys <dir>', "directory of the demo partners' private JWKs (default: <dataDir>/demo)")
    .option(
      '--mutate',
      'also drive the time-dependent events (they change the deployment: the demo walkthrough breaks)',
    )
    .action(async (opts: MatrixOptions, cmd: Command) => {
      const config = configFrom(cmd.optsWithGlobals<GlobalOptions>());
      const at = clientEndpoints(config);
      const report = await runMatrix(
        readScenario(opts.scenario),
        {
          baseUrl: opts.url ?? at.public,
          ca: readFileSync(opts.ca ?? at.caFile, 'utf8'),
          partnerKeysDir: opts.partnerKeys ?? join(config.dataDir, 'demo'),
        },
        // Without --mutate only the seeded phase runs: its probes change nothing a person walks through (an extra
        // pending invite and service request), so Alice still owns and unlocks her car afterwards.
        { log: (line) => process.stderr.write(`${line}\n`), seededOnly: !opts.mutate },
      );
      writeFileSync(opts.report, `${JSON.stringify(report, null, 2)}\n`);
      for (const c of report.cells.filter((x) => x.unexpected))
        process.stdout.write(
          `UNEXPECTED ${c.phase} | ${c.persona} ${c.route} on ${c.object}: expected ${c.expected}, got ${c.observed}${c.note ? ` (${c.note})` : ''}\n`,
        );
      process.stdout.write(`${summaryLine(report)}\n`);
      if (
        report.summary.unexpected > 0 ||
        report.summary.routesMissing.length > 0 ||
        report.summary.unresolved.length > 0
      )
        process.exitCode = 1;
    });

  const config = program.command('config').description('Inspect configuration.');
  config
    .command('check')
    .description('Validate the configuration and print the effective values.')
    .action((_o: unknown, cmd: Command) => {
      process.stdout.write(`${JSON.stringify(configFrom(cmd.optsWithGlobals<GlobalOptions>()), null, 2)}\n`);
    });
  config
    .command('endpoints')
    .description(
      'Print where clients reach each listener and the files they trust, from the same configuration as the server ' +
        '(scripts/device-flow.sh reads this).',
    )
    .addOption(new Option('--format <format>', 'output').choices(['json', 'env']).default('json'))
    .action((opts: { format: 'json' | 'env' }, cmd: Command) => {
      const at = clientEndpoints(configFrom(cmd.optsWithGlobals<GlobalOptions>()));
      process.stdout.write(opts.format === 'json' ? `${JSON.stringify(at, null, 2)}\n` : endpointsAsShell(at));
    });
  config
    .command('reference')
    .description('Print the configuration reference (Markdown).')
    .action(() => {
      process.stdout.write(renderConfigReference());
    });
  return program;
}

/** Entry point: runs the CLI and turns errors into one clear line and a non-zero exit. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof CarapaceError) {
      process.stderr.write(`carapace: ${err.message} [${err.code}]\n`);
      process.exit(2);
    }
    process.stderr.write(`carapace: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
