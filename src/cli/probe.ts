import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { clientEndpoints } from '../config/index.js';
import {
  formatProbeReport,
  PROBE_CHECKS,
  type ProbeCheck,
  type ProbeTarget,
  ProbeUnavailable,
  runProbe,
} from '../probe/index.js';
import { readScenario } from '../server/index.js';
import { configFrom, type GlobalOptions } from './context.js';

interface ProbeCliOptions extends GlobalOptions {
  target?: string;
  scenario: string;
  ca?: string;
  partnerKeys?: string;
  gatewayUrl?: string;
  adminUrl?: string;
  operatorCert?: string;
  operatorKey?: string;
  only?: string;
  json?: boolean;
  report?: string;
}

/** Exit status when the probe could not attack at all (unreachable target, scenario missing or not seeded). */
const CANNOT_RUN = 2;

/**
 * The target from the flags; without `--target`, every listener and file comes from the configuration, as the
 * other commands take them. With `--target`, the gateway and admin plane are crawled only when named.
 */
function targetOf(opts: ProbeCliOptions): ProbeTarget {
  const config = configFrom(opts);
  const at = clientEndpoints(config);
  const local = opts.target === undefined;
  const read = (file: string, what: string) => {
    if (!existsSync(file)) throw new ProbeUnavailable(`${what} ${file} does not exist`);
    return readFileSync(file, 'utf8');
  };
  const certFile = opts.operatorCert ?? (local ? at.operatorCertFile : undefined);
  const keyFile = opts.operatorKey ?? (local ? at.operatorKeyFile : undefined);
  const operator =
    certFile && keyFile && existsSync(certFile) && existsSync(keyFile)
      ? { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') }
      : undefined;
  if (!existsSync(opts.scenario)) throw new ProbeUnavailable(`the scenario ${opts.scenario} does not exist`);
  const gatewayUrl = opts.gatewayUrl ?? (local ? at.gateway : undefined);
  const adminUrl = opts.adminUrl ?? (local ? at.admin : undefined);
  return {
    baseUrl: opts.target ?? at.public,
    ca: read(opts.ca ?? at.caFile, 'the CA file'),
    scenario: readScenario(opts.scenario),
    partnerKeysDir: opts.partnerKeys ?? join(config.dataDir, 'demo'),
    ...(gatewayUrl ? { gatewayUrl } : {}),
    ...(adminUrl ? { adminUrl } : {}),
    ...(operator ? { operator } : {}),
  };
}

function checksOf(only: string | undefined): ProbeCheck[] | undefined {
  if (only === undefined) return undefined;
  const names = only.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(PROBE_CHECKS as readonly string[]).includes(n));
  if (unknown.length)
    throw new ProbeUnavailable(`unknown check(s) ${unknown.join(', ')}: choose from ${PROBE_CHECKS.join(', ')}`);
  return names as ProbeCheck[];
}

/** `carapace probe`: the self-attack suite. Exit 0 clean, 1 on any finding, 2 when it cannot run. */
export function registerProbe(program: Command): void {
  program
    .command('probe')
    .description(
      'Attack a staging deployment seeded with a scenario, black-box, as its personas: unauthenticated crawl of the ' +
        'inventory, token forgery, DPoP replay, enumeration, object- and function-level authorization, mass ' +
        'assignment, business-flow guardrails, rate limits. Exit 1 on any finding, 2 when it cannot run. It spends ' +
        'rate-limit budget and accepts then revokes one invitation: never point it at production.',
    )
    .option('--target <url>', 'the public listener (default: publicBaseUrl of the configuration)')
    .option('--scenario <file>', 'the scenario the deployment was seeded with', 'scenarios/demo.yaml')
    .option('--ca <file>', 'the CA of the listeners (default: <dataDir>/pki/ca.pem)')
    .option('--partner-keys <dir>', "directory of the scenario partners' private JWKs (default: <dataDir>/demo)")
    .option('--gateway-url <url>', 'the vehicle gateway, crawled without a certificate (default without --target)')
    .option('--admin-url <url>', 'the admin plane, crawled without a certificate (default without --target)')
    .option('--operator-cert <file>', 'operator certificate, used only to read the API inventory')
    .option('--operator-key <file>', "the operator certificate's key")
    .option('--only <checks>', `comma-separated: ${PROBE_CHECKS.join(',')}`)
    .option('--json', 'print the JSON report instead of the human one')
    .option('--report <file>', 'also write the JSON report to this file')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ProbeCliOptions>();
      try {
        const only = checksOf(opts.only);
        const report = await runProbe({
          target: targetOf(opts),
          ...(only ? { only } : {}),
          log: (line) => process.stderr.write(`${line}\n`),
        });
        const json = `${JSON.stringify(report, null, 2)}\n`;
        if (opts.report) writeFileSync(opts.report, json);
        process.stdout.write(opts.json ? json : formatProbeReport(report));
        process.exitCode = report.summary.findings > 0 ? 1 : 0;
      } catch (err) {
        if (!(err instanceof ProbeUnavailable)) throw err;
        process.stderr.write(`carapace probe: cannot run: ${err.message}\n`);
        process.exitCode = CANNOT_RUN;
      }
    });
}
