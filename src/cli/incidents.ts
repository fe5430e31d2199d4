import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CarapaceError } from '../platform/index.js';
import { httpsRequest } from '../vehicle-sdk/index.js';
import { configFrom, type GlobalOptions } from './context.js';
import { registerDrill } from './drill.js';

/** Where and as whom the CLI reaches the admin plane. */
export interface AdminOptions extends GlobalOptions {
  adminUrl?: string;
  ca?: string;
  cert?: string;
  key?: string;
  json?: boolean;
}

type Json = Record<string, unknown>;

/** The admin plane as the CLI reaches it: the operator's certificate, over TLS, like any other client. */
export function adminClient(opts: AdminOptions) {
  const config = configFrom(opts);
  const { host, port } = config.listeners.admin;
  const base = (opts.adminUrl ?? `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`).replace(/\/$/, '');
  const pki = join(config.dataDir, 'pki');
  const tls = {
    ca: readFileSync(opts.ca ?? join(pki, 'ca.pem'), 'utf8'),
    cert: readFileSync(opts.cert ?? join(pki, 'operator', 'admin-cert.pem'), 'utf8'),
    key: readFileSync(opts.key ?? join(pki, 'operator', 'admin-key.pem'), 'utf8'),
  };
  return async (method: string, path: string, body?: unknown): Promise<Json> => {
    const res = await httpsRequest(`${base}${path}`, {
      method,
      ...tls,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (res.json ?? {}) as Json;
    if (res.status >= 400)
      throw new CarapaceError(
        'ERR_BAD_REQUEST',
        `${res.status} ${String(json.code ?? '')}: ${String(json.detail ?? '')}`,
      );
    return json;
  };
}

interface IncidentJson {
  id: string;
  state: string;
  severity: string;
  title: string;
  owner: string | null;
  openedAt: string;
  scope: { vehicles: { vehicleId: string; evidence: string[] }[] } | null;
}
interface StepJson {
  id: string;
  stepId: string;
  action: string;
  state?: string;
  targets: string[];
  vehicleCount: number;
  approval: string | number;
  effectiveAt?: string | null;
  error?: string | null;
}

/** One line per incident. */
export function formatIncidents(list: IncidentJson[]): string {
  return list
    .map((i) => `${i.id}  ${i.state.padEnd(9)} ${i.severity.padEnd(8)} ${i.owner ?? '-'}  ${i.title}\n`)
    .join('');
}

/** A run or dry run, one line per step. */
export function formatSteps(steps: StepJson[]): string {
  return steps
    .map(
      (s) =>
        `${s.stepId.padEnd(22)} ${s.action.padEnd(22)} ${String(s.state ?? 'would run').padEnd(17)} ` +
        `vehicles=${s.vehicleCount} approval=${s.approval} targets=${s.targets.join(',') || '-'}` +
        `${s.error ? ` error=${s.error}` : ''} step=${s.id ?? '-'}\n`,
    )
    .join('');
}

const list = (value: string, previous: string[] = []) => [...previous, value];

/** `carapace incidents …`: incidents and playbooks over the admin API, with an operator certificate. */
export function registerIncidents(program: Command): void {
  const cmd = program
    .command('incidents')
    .description('Incidents and playbooks, over the admin API (operator certificate; defaults from the config).')
    .option('--admin-url <url>', 'the admin listener (default: from listeners.admin)')
    .option('--ca <file>', 'the root CA (default <dataDir>/pki/ca.pem)')
    .option('--cert <file>', 'operator certificate (default <dataDir>/pki/operator/admin-cert.pem)')
    .option('--key <file>', 'operator key (default <dataDir>/pki/operator/admin-key.pem)')
    .option('--json', 'print the API answer as JSON');
  const act =
    (fn: (call: ReturnType<typeof adminClient>, args: string[], opts: AdminOptions & Json) => Promise<string | Json>) =>
    async (...a: unknown[]) => {
      const c = a[a.length - 1] as Command;
      const opts = c.optsWithGlobals<AdminOptions & Json>();
      const out = await fn(adminClient(opts), a.slice(0, -2) as string[], opts);
      process.stdout.write(typeof out === 'string' && !opts.json ? out : `${JSON.stringify(out, null, 2)}\n`);
    };

  cmd
    .command('list')
    .description('List incidents, newest first.')
    .option('--state <state>', 'only incidents in this state')
    .action(
      act(async (call, _a, o) => {
        const r = await call('GET', `/admin/v1/incidents${o.state ? `?state=${String(o.state)}` : ''}`);
        return o.json ? r : formatIncidents(r.incidents as IncidentJson[]);
      }),
    );
  cmd
    .command('show')
    .argument('<incident>', 'incident id')
    .description('An incident: state, owner, scope, findings and timeline.')
    .action(
      act(async (call, [id], o) => {
        const r = await call('GET', `/admin/v1/incidents/${id}`);
        if (o.json) return r;
        const i = r.incident as IncidentJson;
        const timeline = (r.timeline as { at: string; actor: string; summary: string }[])
          .map((t) => `  ${t.at} ${t.actor}: ${t.summary}\n`)
          .join('');
        const scope = i.scope ? `${i.scope.vehicles.length} affected vehicle(s)` : 'not scoped';
        return `${formatIncidents([i])}scope: ${scope}\ntimeline:\n${timeline}`;
      }),
    );
  cmd
    .command('open')
    .description('Open an incident from reported findings and/or assets.')
    .requiredOption('--title <title>', 'what happened')
    .requiredOption('--severity <severity>', 'low, medium, high or critical')
    .option('--finding <id>', 'a reported finding (repeatable)', list)
    .option('--user <id>', 'an affected user (repeatable)', list)
    .option('--client <id>', 'an affected client (repeatable)', list)
    .option('--device <id>', 'an affected device (repeatable)', list)
    .option('--vehicle <id>', 'an affected vehicle (repeatable)', list)
    .option('--serial <serial>', 'a certificate serial (repeatable)', list)
    .action(
      act(async (call, _a, o) => {
        const assets = { users: o.user, clients: o.client, devices: o.device, vehicles: o.vehicle, serials: o.serial };
        const r = await call('POST', '/admin/v1/incidents', {
          title: o.title,
          severity: o.severity,
          ...(o.finding ? { findingIds: o.finding } : {}),
          assets: Object.fromEntries(Object.entries(assets).filter(([, v]) => v !== undefined)),
        });
        return o.json ? r : formatIncidents([r.incident as IncidentJson]);
      }),
    );
  cmd
    .command('transition')
    .argument('<incident>', 'incident id')
    .argument('<to>', 'open, triaged, contained, recovered or closed')
    .requiredOption('--reason <text>', 'why')
    .option('--false-positive', 'close as a false positive (from open or triaged)')
    .description('Move an incident through its lifecycle.')
    .action(
      act(async (call, [id, to], o) => {
        const r = await call('POST', `/admin/v1/incidents/${id}/transitions`, {
          to,
          reason: o.reason,
          ...(o.falsePositive ? { resolution: 'false_positive' } : {}),
        });
        return o.json ? r : formatIncidents([r.incident as IncidentJson]);
      }),
    );
  cmd
    .command('scope')
    .argument('<incident>', 'incident id')
    .description('Scope (or re-scope) an incident: its affected vehicles with evidence.')
    .action(
      act(async (call, [id], o) => {
        const r = await call('POST', `/admin/v1/incidents/${id}/scope`, {});
        if (o.json) return r;
        const v = (r.incident as IncidentJson).scope?.vehicles ?? [];
        return v.map((x) => `${x.vehicleId}  evidence: ${x.evidence.join(' ')}\n`).join('') || 'no affected vehicle\n';
      }),
    );
  cmd
    .command('playbooks')
    .description('List the loaded playbooks.')
    .action(
      act(async (call, _a, o) => {
        const r = await call('GET', '/admin/v1/playbooks');
        const p = r.playbooks as { id: string; version: number; title: string; steps: unknown[] }[];
        return o.json ? r : p.map((x) => `${x.id} v${x.version} (${x.steps.length} steps): ${x.title}\n`).join('');
      }),
    );
  for (const [name, path, help] of [
    ['dry-run', 'dry-run', 'Show what a playbook would do on an incident; changes nothing.'],
    ['run', 'runs', 'Run a playbook on an incident; steps needing approval wait for it.'],
  ] as const)
    cmd
      .command(name)
      .argument('<incident>', 'incident id')
      .argument('<playbook>', 'playbook id')
      .description(help)
      .option('--expect <digest>', "run only if the targets are still the dry run's (its digest)")
      .action(
        act(async (call, [id, playbook], o) => {
          const expect = path === 'runs' && o.expect ? `?expectDigest=${encodeURIComponent(String(o.expect))}` : '';
          const r = await call('POST', `/admin/v1/incidents/${id}/playbooks/${playbook}/${path}${expect}`);
          const head = r.digest ? `dry run (digest ${String(r.digest)})` : String(r.state ?? 'dry run');
          return o.json ? r : `${head}\n${formatSteps(r.steps as StepJson[])}`;
        }),
      );
  registerDrill(cmd);
  cmd
    .command('approve')
    .argument('<step>', 'the step id (from run)')
    .requiredOption('--reason <text>', 'why')
    .option('--reject', 'reject the step instead (it is skipped)')
    .description('Approve (or reject) a playbook step waiting for approval; the two-person rule applies.')
    .action(
      act(async (call, [step], o) => {
        const r = await call('POST', `/admin/v1/playbook-steps/${step}/decision`, {
          decision: o.reject ? 'reject' : 'approve',
          reason: o.reason,
        });
        return o.json ? r : `${String(r.state)}\n${formatSteps(r.steps as StepJson[])}`;
      }),
    );
}
