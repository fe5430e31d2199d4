/**
 * Where the scripts find the server: the same configuration the server loads (defaults, `CARAPACE_CONFIG` or
 * `--config`, then the `CARAPACE_*` variables), so a server moved to other ports or another data directory needs
 * nothing more. The scripts' own choices (which scenario, which vehicle) are command-line flags, never variables the
 * server's configuration loader would refuse.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type ClientEndpoints, clientEndpoints, loadConfig } from '../src/config/index.js';
import { readScenario } from '../src/scenario/index.js';

/** What a script needs to reach the server as a client, and its own arguments. */
export interface DemoTarget {
  endpoints: ClientEndpoints;
  /** The root CA the server's certificate chains to. */
  ca: string;
  /** The positional arguments. */
  args: string[];
  /** The flags given (`--scenario`, `--vin`, …). */
  flags: Record<string, string | undefined>;
}

/** Parses the script's arguments (`--config`, `--scenario` and the extra flags named) and loads the configuration. */
export function demoTarget(extraFlags: string[] = []): DemoTarget {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: Object.fromEntries(
      ['config', 'scenario', ...extraFlags].map((name) => [name, { type: 'string' as const }]),
    ),
  });
  const flags = values as Record<string, string | undefined>;
  const endpoints = clientEndpoints(loadConfig({ file: flags.config ?? null, env: process.env }));
  return { endpoints, ca: readFileSync(endpoints.caFile, 'utf8'), args: positionals, flags };
}

/** The persona with this email in the scenario (`--scenario`, default the demo's), or exits with a clear line. */
export function personaFor(target: DemoTarget, email: string): { password: string; totp: string | null } {
  const path = target.flags.scenario ?? 'scenarios/demo.yaml';
  const persona = readScenario(path).users.find((u) => u.email === email);
  if (!persona?.password) {
    process.stderr.write(`no persona with email ${email} and a password in ${path}\n`);
    process.exit(2);
  }
  return { password: persona.password, totp: persona.totp ?? null };
}
