import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CarapaceError } from '../platform/index.js';
import { Option } from './option.js';
import { type Config, configSchema } from './schema.js';

type Tree = { [key: string]: unknown };

/** Environment variables that are read but are not options. */
// Variables read by name but not options: the config file's path, and the SIEM collector's credential (its value
// must never sit in the configuration, so `audit.export.http.authorizationEnv` names this variable by default).
// CARAPACE_FAULT_POINTS is read by src/platform/fault-points.ts, for the fault-injection suite's server processes;
// production mode refuses to start with it set.
const NON_OPTION_ENV = new Set([
  'CARAPACE_CONFIG',
  'CARAPACE_AUDIT_EXPORT_HTTP_AUTHORIZATION',
  'CARAPACE_FAULT_POINTS',
]);

// Variables the scripts once read on their own. They are not options (the scripts now load this configuration), so
// they are still refused, but the error says what replaces each one.
const FORMER_SCRIPT_ENV: Record<string, string> = {
  CARAPACE_URL:
    'the scripts take the public URL from the configuration: set CARAPACE_PUBLIC_PORT or CARAPACE_PUBLIC_BASE_URL',
  CARAPACE_CA: 'the scripts read <dataDir>/pki/ca.pem: set CARAPACE_DATA_DIR',
  CARAPACE_GATEWAY: 'the scripts take the gateway from the configuration: set CARAPACE_GATEWAY_PORT',
  CARAPACE_ADMIN: 'the scripts take the admin plane from the configuration: set CARAPACE_ADMIN_PORT',
  CARAPACE_SCENARIO: 'pass --scenario <file> to the script',
  CARAPACE_VIN: 'pass --vin <vin> to scripts/command.ts',
};

/** Where configuration may come from; later sources override earlier ones. */
export interface ConfigSources {
  /** Path to a YAML or JSON file. */
  file?: string | null;
  /** Process environment (defaults to none, so tests are hermetic). */
  env?: Record<string, string | undefined>;
  /** Values set programmatically or by CLI flags, same shape as the file. */
  overrides?: Tree;
}

function isOption(v: unknown): v is Option<unknown> {
  return v instanceof Option;
}

/** Every option with its dotted key, in schema order. */
export function listOptions(tree: Tree = configSchema, prefix = ''): Array<[string, Option<unknown>]> {
  const out: Array<[string, Option<unknown>]> = [];
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isOption(v)) out.push([key, v]);
    else out.push(...listOptions(v as Tree, key));
  }
  return out;
}

function readFileTree(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new CarapaceError('ERR_CONFIG_INVALID', `cannot read configuration file ${path}`, { path }, { cause });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (cause) {
    throw new CarapaceError(
      'ERR_CONFIG_INVALID',
      `configuration file ${path} is not valid YAML or JSON`,
      { path },
      { cause },
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CarapaceError('ERR_CONFIG_INVALID', `configuration file ${path} must hold a mapping at the top level`, {
      path,
    });
  }
  return parsed as Tree;
}

/** Rejects any key in `tree` that is not an option, naming the first one found. */
function assertKnownKeys(tree: Tree, schema: Tree, prefix: string, source: string): void {
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const spec = schema[k];
    if (spec === undefined) {
      throw new CarapaceError('ERR_CONFIG_INVALID', `unknown configuration key "${key}" in ${source}`, { key });
    }
    if (!isOption(spec)) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        throw new CarapaceError('ERR_CONFIG_INVALID', `configuration key "${key}" in ${source} must be a mapping`, {
          key,
        });
      }
      assertKnownKeys(v as Tree, spec as Tree, key, source);
    }
  }
}

function lookup(tree: Tree | undefined, key: string): { found: boolean; value: unknown } {
  let node: unknown = tree;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return { found: false, value: undefined };
    node = (node as Tree)[part];
  }
  return { found: true, value: node };
}

function assign(tree: Tree, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** The public URL when none is configured: localhost on the public listener's port. */
export function defaultPublicBaseUrl(port: number): string {
  return port === 443 ? 'https://localhost' : `https://localhost:${port}`;
}

/** Loads, merges and validates configuration. Throws ERR_CONFIG_INVALID naming the bad key or variable. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? {};
  const options = listOptions();
  const filePath = sources.file ?? env.CARAPACE_CONFIG ?? null;
  const fileTree = filePath ? readFileTree(filePath) : {};
  assertKnownKeys(fileTree, configSchema, '', filePath ?? 'file');
  if (sources.overrides) assertKnownKeys(sources.overrides, configSchema, '', 'overrides');

  const knownEnv = new Set(options.map(([, o]) => o.env));
  for (const name of Object.keys(env)) {
    if (name.startsWith('CARAPACE_') && !knownEnv.has(name) && !NON_OPTION_ENV.has(name)) {
      throw new CarapaceError(
        'ERR_CONFIG_INVALID',
        `unknown environment variable ${name} (${FORMER_SCRIPT_ENV[name] ?? 'see docs/configuration.md'})`,
        { key: name },
      );
    }
  }

  const out: Tree = {};
  const explicit = new Set<string>();
  for (const [key, option] of options) {
    let value = option.defaultValue;
    const fromFile = lookup(fileTree, key);
    if (fromFile.found) value = option.parse(fromFile.value, key);
    const fromEnv = env[option.env];
    if (fromEnv !== undefined && fromEnv !== '') value = option.parse(fromEnv, `${key} (from ${option.env})`);
    const fromOverride = lookup(sources.overrides, key);
    if (fromOverride.found) value = option.parse(fromOverride.value, key);
    if (fromFile.found || (fromEnv !== undefined && fromEnv !== '') || fromOverride.found) explicit.add(key);
    assign(out, key, value);
  }
  // Unset, the public URL follows the public port: a server moved to another port must not pin its Host and its
  // token issuer to the default one (every request would be refused as naming another deployment).
  if (!explicit.has('publicBaseUrl'))
    out.publicBaseUrl = defaultPublicBaseUrl((out as unknown as Config).listeners.public.port);
  const config = out as unknown as Config;
  if ((config.tls.certFile === null) !== (config.tls.keyFile === null)) {
    throw new CarapaceError(
      'ERR_CONFIG_INVALID',
      'configuration keys "tls.certFile" and "tls.keyFile" must be set together',
      { key: 'tls.certFile' },
    );
  }
  return config;
}
