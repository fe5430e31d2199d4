import type { Command } from 'commander';
import {
  createInvestigator,
  FOLLOWABLE,
  type Followable,
  type Investigation,
  type Pivot,
} from '../investigation/index.js';
import { CarapaceError } from '../platform/index.js';
import { type GlobalOptions, withPlatform } from './context.js';

/** Flag -> pivot. Exactly one is given. */
const PIVOT_FLAGS: [flag: string, option: string, pivot: Pivot, help: string][] = [
  ['--request-id <id>', 'requestId', 'request', 'an API request id (the `instance` of a problem, a log line)'],
  ['--trace-id <id>', 'traceId', 'trace', 'a W3C trace id'],
  ['--jti <jti>', 'jti', 'jti', 'an access token id (never the token itself)'],
  ['--user <id>', 'user', 'user', 'a user id'],
  ['--client <clientId>', 'client', 'client', 'an application (OAuth client) id'],
  ['--partner <clientId>', 'partner', 'partner', "a partner's client id"],
  ['--device <id>', 'device', 'device', 'a device (TCU) id'],
  ['--serial <serial>', 'serial', 'serial', 'a certificate serial'],
  ['--thumbprint <x5t>', 'thumbprint', 'thumbprint', 'a certificate thumbprint (base64url SHA-256)'],
  ['--source <ip>', 'source', 'source', 'a source address'],
  ['--job <id>', 'job', 'job', 'a command job id'],
  ['--vehicle <id>', 'vehicle', 'vehicle', 'a vehicle id'],
  ['--vin <vin>', 'vin', 'vin', 'a VIN (resolved to its vehicle)'],
];

interface InvestigateOptions {
  from?: string;
  to?: string;
  follow?: string;
  maxEvents?: string;
  maxHops?: string;
  proofs?: boolean;
  json?: boolean;
  [pivot: string]: string | boolean | undefined;
}

function pivotOf(opts: InvestigateOptions): { pivot: Pivot; value: string } {
  const given = PIVOT_FLAGS.filter(([, option]) => typeof opts[option] === 'string');
  if (given.length !== 1)
    throw new CarapaceError('ERR_VALIDATION', 'give exactly one pivot, e.g. --jti <jti> or --vin <vin>', {
      field: 'pivot',
    });
  const [, option, pivot] = given[0]!;
  return { pivot, value: opts[option] as string };
}

function followOf(value: string | undefined): Followable[] | undefined {
  if (value === undefined) return undefined;
  const kinds = value.split(',').map((s) => s.trim());
  const bad = kinds.find((k) => !(FOLLOWABLE as readonly string[]).includes(k));
  if (bad) throw new CarapaceError('ERR_VALIDATION', `--follow takes ${FOLLOWABLE.join(', ')}`, { field: 'follow' });
  return kinds as Followable[];
}

/** The answer for a person: the affected vehicles first, then what led there. */
export function formatInvestigation(r: Investigation): string {
  const lines = [
    `investigation of ${r.pivot.kind}=${r.pivot.value} from ${r.window.from} to ${r.window.to}`,
    `${r.events.length} event(s) over ${r.hops + 1} hop(s), following ${r.bounds.follow.join(', ') || 'nothing'}`,
    r.truncated ? `TRUNCATED: ${r.truncation.join('; ')}` : 'complete: no bound was reached',
    '',
    `affected vehicles (${r.vehicles.length}):`,
  ];
  for (const v of r.vehicles) {
    const sw = v.telemetry?.software;
    lines.push(
      `  ${v.vin ?? '(no VIN)'} ${v.vehicleId}${v.known ? '' : ' (unknown id)'}: ${v.outcome}, ` +
        `${v.allowed} allowed / ${v.denied} denied; software ${sw?.swVersion ?? 'not reported'}, ` +
        `config ${sw?.configId ?? 'not reported'}; telemetry ${v.telemetry?.accepted ?? 0} accepted, ` +
        `${v.telemetry?.rejected ?? 0} rejected`,
      `    evidence: ${v.evidence.join(' ')}`,
    );
  }
  lines.push('', `commands (${r.commands.length}):`);
  for (const c of r.commands) lines.push(`  ${c.jobId} ${c.command} on ${c.vehicleId}: ${c.state} (${c.reason ?? ''})`);
  const n = r.nodes;
  lines.push(
    '',
    `users: ${n.users.join(' ') || '-'}`,
    `clients: ${n.clients.join(' ') || '-'}`,
    `tokens (jti): ${n.tokens.join(' ') || '-'}`,
    `devices: ${n.devices.join(' ') || '-'}`,
    `certificates: ${n.certificates.serials.join(' ') || '-'}`,
    `source addresses: ${n.sourceAddresses.join(' ') || '-'}`,
    `backend services: ${n.backendServices.join(' ') || '-'}`,
    `policy versions: ${n.policyVersions.join(' ') || '-'}`,
    `requests: ${r.requests.length}, decisions: ${r.decisions.length} ` +
      `(${r.decisions.filter((d) => d.decision === 'deny').length} denied)`,
  );
  if (r.proofs)
    lines.push(`inclusion proofs: ${r.proofs.inclusion.length}; not sealed yet: ${r.proofs.unsealed.length}`);
  lines.push('', 'not recorded:', ...r.notRecorded.map((s) => `  - ${s}`));
  return `${lines.join('\n')}\n`;
}

/** `carapace investigate`: the connected graph around one pivot, as the admin API answers it. */
export function registerInvestigate(program: Command): void {
  const cmd = program
    .command('investigate')
    .description(
      'Investigate from one pivot over a window: the affected vehicles with their evidence, the requests, users, ' +
        'clients, tokens, devices, commands, telemetry and decisions. Human-readable unless --json.',
    );
  for (const [flag, , , help] of PIVOT_FLAGS) cmd.option(flag, help);
  cmd
    .option('--from <iso>', 'window start (default: 24 hours before --to)')
    .option('--to <iso>', 'window end (default: now)')
    .option('--follow <kinds>', `links to follow, comma-separated, from ${FOLLOWABLE.join(', ')} (default request,job)`)
    .option('--max-events <n>', 'bound on events (default 1000, at most 5000)')
    .option('--max-hops <n>', 'bound on hops (default 2, at most 4)')
    .option('--proofs', 'add inclusion proofs of each vehicle evidence event (latest checkpoint)')
    .option('--json', 'print the answer as JSON, exactly as the admin API returns it')
    .action(async (opts: InvestigateOptions, c: Command) => {
      const query = {
        ...pivotOf(opts),
        from: opts.from,
        to: opts.to,
        follow: followOf(opts.follow),
        maxEvents: opts.maxEvents === undefined ? undefined : Number(opts.maxEvents),
        maxHops: opts.maxHops === undefined ? undefined : Number(opts.maxHops),
        proofs: opts.proofs === true,
      };
      await withPlatform(c.optsWithGlobals<GlobalOptions>(), async (p) => {
        const investigator = createInvestigator({ db: p.storage.db, proofs: p.evidence.proofs, clock: p.clock });
        const answer = await investigator.investigate(query);
        process.stdout.write(opts.json ? `${JSON.stringify(answer, null, 2)}\n` : formatInvestigation(answer));
      });
    });
}
