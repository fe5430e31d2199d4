/** The formats `carapace inventory` exports. */
export const EXPORT_FORMATS = ['json', 'csv', 'markdown'] as const;
/** One export format. */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

type Flat = Record<string, string>;

/** A row as flat columns: nested objects as `a.b`, lists joined with `; `, null as empty. */
function flatten(value: unknown, prefix = '', out: Flat = {}): Flat {
  if (Array.isArray(value)) out[prefix] = value.map(String).join('; ');
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  else out[prefix] = value === null || value === undefined ? '' : String(value);
  return out;
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/** A Markdown table cell: pipes escaped, line breaks as spaces. */
function mdCell(v: string): string {
  return v.replaceAll('|', '\\|').replace(/\r?\n/g, ' ');
}

/** Rows (objects of the same shape) as JSON, CSV (a header line, then one line per row) or a Markdown table. */
export function exportRows(rows: readonly object[], format: ExportFormat): string {
  if (format === 'json') return `${JSON.stringify(rows, null, 2)}\n`;
  const flat = rows.map((r) => flatten(r));
  const columns = [...new Set(flat.flatMap((r) => Object.keys(r)))];
  if (format === 'csv')
    return [columns, ...flat.map((r) => columns.map((c) => r[c] ?? ''))]
      .map((line) => line.map(csvField).join(','))
      .join('\r\n')
      .concat('\r\n');
  return [
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...flat.map((r) => `| ${columns.map((c) => mdCell(r[c] ?? '')).join(' | ')} |`),
  ]
    .join('\n')
    .concat('\n');
}
