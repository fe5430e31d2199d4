import { pathToFileURL } from 'node:url';
import { listOptions } from './load.js';
import { formatDuration } from './option.js';

/** Renders the configuration reference (docs/configuration.md) from the schema. */
export function renderConfigReference(): string {
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`. Do not edit by hand. -->',
    '',
    'Carapace reads, in increasing precedence: built-in defaults, a YAML or JSON file (`--config <file>` or',
    '`CARAPACE_CONFIG`), environment variables, and command-line flags. Everything is validated at start:',
    'an unknown key, an unknown `CARAPACE_*` variable or a bad value stops the process with an error naming it.',
    'Durations are written as `90s`, `15m`, `12h`, `7d` or a number of seconds.',
    '',
    '| key | environment | type | default | description |',
    '|---|---|---|---|---|',
  ];
  for (const [key, option] of listOptions()) {
    const d = option.defaultValue;
    const shown =
      d === null
        ? '(unset)'
        : option.typeName === 'duration'
          ? formatDuration(d as number)
          : Array.isArray(d) && !option.typeName.includes('JSON')
            ? d.join(', ')
            : typeof d === 'object'
              ? JSON.stringify(d)
              : String(d);
    lines.push(
      `| \`${key}\` | \`${option.env}\` | ${option.typeName.replaceAll('|', '\\|')} | \`${shown}\` | ${option.doc.replaceAll('|', '\\|')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(renderConfigReference());
}
