import { CarapaceError } from '../platform/index.js';

/** One configuration option: its default, its environment variable, its documentation and its parser. */
export class Option<T> {
  constructor(
    readonly defaultValue: T,
    readonly env: string,
    readonly doc: string,
    readonly typeName: string,
    private readonly parser: (raw: unknown, key: string) => T,
  ) {}

  /** Parses a raw value from a file (typed) or the environment (string); throws naming the key. */
  parse(raw: unknown, key: string): T {
    return this.parser(raw, key);
  }
}

function bad(key: string, why: string): CarapaceError {
  return new CarapaceError('ERR_CONFIG_INVALID', `configuration key "${key}" ${why}`, { key });
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses "90s", "15m", "12h", "7d" or a bare number of seconds into seconds. */
export function parseDuration(raw: unknown): number | null {
  if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
  if (typeof raw !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/.exec(raw);
  if (!m) return null;
  return Number(m[1]) * (DURATION_UNITS[m[2] || 's'] ?? 1);
}

/** Formats seconds back into the shortest exact duration text, for documentation. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** Constructors for each option type. */
export const opt = {
  string(defaultValue: string, env: string, doc: string): Option<string> {
    return new Option(defaultValue, env, doc, 'string', (raw, key) => {
      if (typeof raw !== 'string' || raw.length === 0) throw bad(key, 'must be a non-empty string');
      return raw;
    });
  },

  optionalString(env: string, doc: string): Option<string | null> {
    return new Option<string | null>(null, env, doc, 'string (optional)', (raw, key) => {
      if (raw === null || raw === '') return null;
      if (typeof raw !== 'string') throw bad(key, 'must be a string');
      return raw;
    });
  },

  port(defaultValue: number, env: string, doc: string): Option<number> {
    return new Option(defaultValue, env, doc, 'port (0-65535)', (raw, key) => {
      const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
        throw bad(key, `must be a port number between 0 and 65535, got ${JSON.stringify(raw)}`);
      }
      return n;
    });
  },

  integer(defaultValue: number, min: number, max: number, env: string, doc: string): Option<number> {
    return new Option(defaultValue, env, `${doc} Allowed: ${min} to ${max}.`, 'integer', (raw, key) => {
      const n = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
        throw bad(key, `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return n;
    });
  },

  /** A duration in seconds, written as "15m", "7d" or a number of seconds, within [min, max] seconds. */
  duration(defaultSeconds: number, min: number, max: number, env: string, doc: string): Option<number> {
    const range = `between ${formatDuration(min)} and ${formatDuration(max)}`;
    return new Option(defaultSeconds, env, `${doc} Allowed: ${range}.`, 'duration', (raw, key) => {
      const s = parseDuration(raw);
      if (s === null)
        throw bad(key, `must be a duration such as "90s", "15m", "12h" or "7d", got ${JSON.stringify(raw)}`);
      if (s < min || s > max) throw bad(key, `must be ${range}, got ${JSON.stringify(raw)}`);
      return s;
    });
  },

  oneOf<const T extends string>(values: readonly T[], defaultValue: T, env: string, doc: string): Option<T> {
    return new Option<T>(defaultValue, env, doc, values.map((v) => `"${v}"`).join(' | '), (raw, key) => {
      if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) {
        throw bad(key, `must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
      }
      return raw as T;
    });
  },

  boolean(defaultValue: boolean, env: string, doc: string): Option<boolean> {
    return new Option(defaultValue, env, doc, 'boolean', (raw, key) => {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw bad(key, `must be true or false, got ${JSON.stringify(raw)}`);
    });
  },

  stringList(defaultValue: string[], env: string, doc: string): Option<string[]> {
    return new Option(defaultValue, env, doc, 'list of strings (comma-separated in the environment)', (raw, key) => {
      const list =
        typeof raw === 'string'
          ? raw
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : raw;
      if (!Array.isArray(list) || !list.every((v) => typeof v === 'string' && v.length > 0)) {
        throw bad(key, 'must be a list of non-empty strings');
      }
      return list as string[];
    });
  },

  /**
   * A structured value: a mapping or list in the file, JSON text in the environment. `check` validates its shape
   * (the module that reads it checks what only it knows, e.g. that an override names a loaded rule).
   */
  json<T>(defaultValue: T, typeName: string, env: string, doc: string, check: (raw: unknown) => string | null) {
    return new Option<T>(defaultValue, env, doc, typeName, (raw, key) => {
      let value = raw;
      if (typeof raw === 'string') {
        try {
          value = JSON.parse(raw) as unknown;
        } catch {
          throw bad(key, 'must be JSON');
        }
      }
      const problem = check(value);
      if (problem) throw bad(key, problem);
      return value as T;
    });
  },
};
