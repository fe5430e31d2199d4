import { type Command, Option } from 'commander';
import { EXPORT_FORMATS, type ExportFormat, exportRows } from '../inventory/index.js';
import { adminClient, adminOptions } from './findings.js';

const format = () =>
  new Option('--format <format>', 'json, csv or markdown').choices(EXPORT_FORMATS).default('markdown');

/** The format asked for: `inventory` and its subcommands share the option, and the parent parses it first. */
const formatOf = (c: Command) => c.optsWithGlobals<{ format: ExportFormat }>();

const print = (text: string): void => {
  process.stdout.write(text);
};

/** `carapace inventory`: the API inventory, who still calls deprecated versions, and the governance numbers. */
export function registerInventory(program: Command): void {
  const inventory = adminOptions(
    program
      .command('inventory')
      .description('The API inventory of a running deployment: every route, from code, configuration and the trail.'),
  )
    .addOption(format())
    .action(async (opts: { format: ExportFormat }, c: Command) => {
      const answer = (await adminClient(c).call('/admin/v1/inventory')) as { routes: object[] };
      print(exportRows(answer.routes, opts.format));
    });
  adminOptions(inventory.command('deprecated').description('Who still calls deprecated API versions, and when last.'))
    .addOption(format())
    .action(async (_o: unknown, c: Command) => {
      const opts = formatOf(c);
      const answer = (await adminClient(c).call('/admin/v1/inventory/deprecated')) as { usage: object[] };
      print(
        answer.usage.length === 0 && opts.format !== 'json'
          ? 'no calls of deprecated versions\n'
          : exportRows(answer.usage, opts.format),
      );
    });
  adminOptions(inventory.command('governance').description('The eleven governance measures (null: no data yet).'))
    .addOption(format())
    .action(async (_o: unknown, c: Command) => {
      const opts = formatOf(c);
      const answer = (await adminClient(c).call('/admin/v1/governance')) as { metrics: object[] };
      print(exportRows(answer.metrics, opts.format));
    });
}
