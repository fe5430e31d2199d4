import { type Config, loadConfig } from '../config/index.js';
import { createLogger, type Logger } from '../platform/index.js';
import { createPlatform, type Platform } from '../server/index.js';

/** Options every subcommand accepts. */
export interface GlobalOptions {
  config?: string;
}

/** Loads configuration from the file flag and the process environment. */
export function configFrom(opts: GlobalOptions, overrides?: Record<string, unknown>): Config {
  return loadConfig({ file: opts.config ?? null, env: process.env, overrides });
}

/** A logger for CLI commands: warnings and errors only, on stderr, so stdout stays machine-readable. */
export function cliLogger(config: Config): Logger {
  return createLogger(config.log.level === 'info' ? 'warn' : config.log.level, {
    write: (s: string) => process.stderr.write(s),
  });
}

/** Runs `fn` with an open platform and always closes it. */
export async function withPlatform<T>(opts: GlobalOptions, fn: (p: Platform) => Promise<T>): Promise<T> {
  const config = configFrom(opts);
  const platform = await createPlatform(config, { log: cliLogger(config) });
  try {
    return await fn(platform);
  } finally {
    await platform.close();
  }
}
