import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type ClientResponse, request } from '../client/index.js';
import type { Finding } from '../detect/index.js';
import { CarapaceError } from '../platform/index.js';
import { configFrom, type GlobalOptions } from './context.js';

interface AdminOptions {
  adminUrl?: string;
  cert?: string;
  key?: string;
  ca?: string;
  json?: boolean;
}

/** An admin-plane caller (shared by the admin commands): the admin URL and an operator certificate (dev defaults). */
export function adminClient(c: Command) {
  const opts = c.optsWithGlobals<GlobalOptions & AdminOptions>();
  const config = configFrom(opts);
  const host = config.listeners.admin.host === '0.0.0.0' ? '127.0.0.1' : config.listeners.admin.host;
  const url = (opts.adminUrl ?? `https://${host}:${config.listeners.admin.port}`).replace(/\/$/, '');
  const pki = join(config.dataDir, 'pki');
  const tls = {
    ca: readFileSync(opts.ca ?? join(pki, 'ca.pem'), 'utf8'),
    cert: readFileSync(opts.cert ?? join(pki, 'operator', 'admin-cert.pem'), 'utf8'),
    key: readFileSync(opts.key ?? join(pki, 'operator', 'admin-key.pem'), 'utf8'),
  };
  const call = async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const res: ClientResponse = await request(`${url}${path}`, {
      ...tls,
      method: init.method ?? 'GET',
      headers: init.body ? { 'content-type': 'application/json' } : {},
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    if (res.status >= 400) {
      const p = res.json as { title?: string; detail?: string } | null;
      throw new CarapaceError(
        res.status === 404 ? 'ERR_NOT_FOUND' : 'ERR_BAD_REQUEST',
        p?.detail ?? p?.title ?? res.text,
      );
    }
    return res.json;
  };
  return { call, json: opts.json === true };
}

const print = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};

/** One line per finding. */
export function formatFindings(findings: Finding[]): string {
  if (findings.length === 0) return 'no findings\n';
  return findings
    .map(
      (f) =>
        `${f.id} ${f.severity.padEnd(8)} ${f.status.padEnd(10)} ${f.ruleId} v${f.ruleVersion} x${f.count} ` +
        `last ${f.lastSeen}: ${f.summary}`,
    )
    .join('\n');
}

/** A finding with its assets and evidence, for a person. */
export function formatFinding(f: Finding, proofs: { inclusion: unknown[]; unsealed: string[] } | null): string {
  const assets = Object.entries(f.assets)
    .filter(([, v]) => v.length > 0)
    .map(([k, v]) => `  ${k}: ${v.join(' ')}`);
  return [
    `${f.title} (${f.ruleId} v${f.ruleVersion}), ${f.severity}, ${f.status}`,
    `group ${f.groupKey}${f.tenantId ? `, tenant ${f.tenantId}` : ''}`,
    `seen ${f.count} time(s) from ${f.firstSeen} to ${f.lastSeen}`,
    `summary: ${f.summary}`,
    `assets${f.truncated ? ' (truncated)' : ''}:`,
    ...assets,
    `evidence (${f.evidence.length}): ${f.evidence.join(' ')}`,
    ...(proofs ? [`inclusion proofs: ${proofs.inclusion.length}; not sealed yet: ${proofs.unsealed.length}`] : []),
  ].join('\n');
}

/** The options every admin-API command takes: where the admin plane is and which operator credentials to use. */
export function adminOptions(cmd: Command): Command {
  return cmd
    .option('--admin-url <url>', 'the admin plane (default https://<listeners.admin.host>:<port> of the config)')
    .option('--cert <file>', 'operator certificate (default the development operator under dataDir/pki/operator)')
    .option('--key <file>', 'operator key (default the development operator key)')
    .option('--ca <file>', 'CA to trust (default dataDir/pki/ca.pem)')
    .option('--json', 'print the admin API answer as JSON');
}

/** `carapace findings` and `carapace detections`: the detection findings and rules, over the admin API. */
export function registerFindings(program: Command): void {
  const findings = program.command('findings').description('Detection findings of a running deployment.');
  adminOptions(findings.command('list').description('List findings, newest first.'))
    .option('--status <status>', 'open | resolved | suppressed')
    .option('--rule <id>', 'one rule')
    .option('--severity <severity>', 'low | medium | high | critical')
    .option('--tenant <id>', 'one tenant')
    .option('--since <iso>', 'last seen at or after')
    .option('--limit <n>', 'page size (default 50, at most 200)')
    .option('--cursor <cursor>', 'the `next` of the previous page')
    .action(async (opts: Record<string, string | undefined>, c: Command) => {
      const admin = adminClient(c);
      const q = new URLSearchParams();
      for (const k of ['status', 'rule', 'severity', 'tenant', 'since', 'limit', 'cursor'])
        if (typeof opts[k] === 'string') q.set(k, opts[k] as string);
      const page = (await admin.call(`/admin/v1/findings?${q}`)) as { findings: Finding[]; next: string | null };
      print(
        admin.json
          ? JSON.stringify(page, null, 2)
          : formatFindings(page.findings) + (page.next ? `\nnext: ${page.next}` : ''),
      );
    });
  adminOptions(findings.command('show <findingId>').description('One finding with its evidence events.'))
    .option('--proofs', 'add inclusion proofs of the evidence events')
    .action(async (id: string, opts: { proofs?: boolean }, c: Command) => {
      const admin = adminClient(c);
      const answer = (await admin.call(
        `/admin/v1/findings/${encodeURIComponent(id)}${opts.proofs ? '?proofs=true' : ''}`,
      )) as { finding: Finding; proofs: { inclusion: unknown[]; unsealed: string[] } | null };
      print(admin.json ? JSON.stringify(answer, null, 2) : formatFinding(answer.finding, answer.proofs));
    });
  const verbs = { resolve: 'resolved', suppress: 'suppressed' } as const;
  for (const [verb, status] of Object.entries(verbs))
    adminOptions(findings.command(`${verb} <findingId>`).description(`Mark a finding ${status} (audited).`))
      .requiredOption('--reason <text>', 'why (recorded in the audit event)')
      .action(async (id: string, opts: { reason: string }, c: Command) => {
        const admin = adminClient(c);
        const answer = (await admin.call(`/admin/v1/findings/${encodeURIComponent(id)}/status`, {
          method: 'POST',
          body: { status, reason: opts.reason },
        })) as { finding: Finding };
        print(admin.json ? JSON.stringify(answer, null, 2) : `${answer.finding.id} ${answer.finding.status}`);
      });

  const detections = program.command('detections').description('Detection rules of a running deployment.');
  adminOptions(
    detections.command('list').description('The loaded rules with effective parameters, and the engine.'),
  ).action(async (_o: unknown, c: Command) => {
    const admin = adminClient(c);
    const answer = (await admin.call('/admin/v1/detections')) as {
      rules: Array<{ id: string; version: number; severity: string; enabled: boolean; kind: string; title: string }>;
      engine: Record<string, unknown>;
    };
    if (admin.json) return print(JSON.stringify(answer, null, 2));
    const lines = answer.rules.map(
      (r) => `${r.id} v${r.version} ${r.kind} ${r.severity}${r.enabled ? '' : ' (disabled)'}: ${r.title}`,
    );
    const e = answer.engine;
    lines.push(
      '',
      `engine: ${e.enabled ? 'enabled' : 'disabled'}, lease ${e.leaseHeld ? 'held by this node' : 'not held here'}, ` +
        `evaluated ${String(e.evaluated)}, lag ${String(e.lagEvents)} event(s) / ${String(e.lagMs)} ms` +
        (e.lastError ? `, last error: ${String(e.lastError)}` : ''),
    );
    print(lines.join('\n'));
  });
}
