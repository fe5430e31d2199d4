import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  DRILLS,
  type DrilledPlaybook,
  type DrillTarget,
  formatDrill,
  parseNode,
  runDrill,
  seedDrill,
} from '../drill/index.js';
import { CarapaceError } from '../platform/index.js';
import { configFrom, type GlobalOptions, withPlatform } from './context.js';

interface DrillOptions extends GlobalOptions {
  node?: string[];
  ca?: string;
  cert?: string;
  key?: string;
  report?: string;
  json?: boolean;
}

function targetOf(opts: DrillOptions): DrillTarget {
  const config = configFrom(opts);
  const local = (l: { host: string; port: number }) =>
    `https://${l.host === '0.0.0.0' ? '127.0.0.1' : l.host}:${l.port}`;
  const nodes = opts.node?.length
    ? opts.node.map(parseNode)
    : [
        {
          name: 'node-1',
          publicUrl: local(config.listeners.public),
          gatewayUrl: local(config.listeners.gateway),
          adminUrl: local(config.listeners.admin),
        },
      ];
  const pki = join(config.dataDir, 'pki');
  return {
    nodes,
    publicBaseUrl: config.publicBaseUrl,
    ca: readFileSync(opts.ca ?? join(pki, 'ca.pem'), 'utf8'),
    operator: {
      cert: readFileSync(opts.cert ?? join(pki, 'operator', 'admin-cert.pem'), 'utf8'),
      key: readFileSync(opts.key ?? join(pki, 'operator', 'admin-key.pem'), 'utf8'),
    },
    dataDir: config.dataDir,
  };
}

/** `carapace incidents drill <playbook>`: stage the attack, run the playbook, print and keep the measurements. */
export function registerDrill(incidents: Command): void {
  incidents
    .command('drill')
    .argument('<playbook>', `one of ${Object.keys(DRILLS).join(', ')}`)
    .description(
      'Drill a playbook against the running deployment: seed fresh drill identities, stage the attack, then measure ' +
        'time to detect, time to contain on every node (from the decision) and time to scope. Exit 1 on a missed goal.',
    )
    .option('--node <public,gateway,admin>', 'a node of the deployment, three URLs (repeat for each node)', collect)
    .option('--report <file>', 'where to write the JSON report (default <dataDir>/drills/<run>-<playbook>.json)')
    .action(async (playbook: string, _o: unknown, c: Command) => {
      const opts = c.optsWithGlobals<DrillOptions>();
      if (!(playbook in DRILLS))
        throw new CarapaceError('ERR_VALIDATION', `no drill for ${playbook}: ${Object.keys(DRILLS).join(', ')}`, {
          field: 'playbook',
        });
      const target = targetOf(opts);
      const report = await runDrill(target, playbook as DrilledPlaybook, (ids) =>
        withPlatform(opts, (p) => seedDrill(p, ids)),
      );
      const file = opts.report ?? join(target.dataDir, 'drills', `${report.runId}-${playbook}.json`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(
        opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDrill(report)}  report: ${file}\n`,
      );
      if (!report.passed) process.exitCode = 1;
    });
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
