/**
 * Table ownership (DESIGN rule 11): a module's tables are read and written only by that module. Each module lists
 * its tables in the `XTables` interface of its `tables.ts`; this check finds every Kysely query (selectFrom,
 * insertInto, updateTable, deleteFrom, joins, `sql` text) that names a table of another module. Run in `npm test`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const defaultSrc = join(import.meta.dirname, '..', 'src');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Table name -> owning module, from each module's `export interface XTables { name: Row; ... }`. */
function tableOwners(src: string): Map<string, string> {
  const owners = new Map<string, string>();
  for (const module of readdirSync(src)) {
    let text: string;
    try {
      text = readFileSync(join(src, module, 'tables.ts'), 'utf8');
    } catch {
      continue;
    }
    for (const block of text.matchAll(/export interface \w+Tables \{([^}]*)\}/g))
      for (const [, table] of block[1]!.matchAll(/^\s*(\w+):/gm)) owners.set(table!, module);
  }
  return owners;
}

const QUERY =
  /\b(?:selectFrom|insertInto|updateTable|deleteFrom|innerJoin|leftJoin|rightJoin|fullJoin|table)\(\s*'(\w+)/g;
const SQL_TEXT = /\b(?:from|join|into|update|table)\s+"?(\w+)"?/gi;

/** Every place a module names a table it does not own, as `file:line table (owner)`. */
export function tableOwnershipViolations(src = defaultSrc): string[] {
  const owners = tableOwners(src);
  const out: string[] = [];
  for (const file of filesUnder(src)) {
    const rel = relative(src, file);
    const module = rel.split('/')[0]!;
    // Tests set up fixtures directly and the test harness drops schemas; neither is product code.
    if (file.endsWith('.test.ts') || module === 'testing') continue;
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const names = [...line.matchAll(QUERY)].map((m) => m[1]!);
      if (/sql`/.test(line) || /sql\.raw/.test(line)) names.push(...[...line.matchAll(SQL_TEXT)].map((m) => m[1]!));
      for (const table of names) {
        const owner = owners.get(table);
        if (owner && owner !== module) out.push(`src/${rel}:${i + 1} ${table} (owned by ${owner})`);
      }
    });
  }
  return out;
}

if (process.argv[1] === import.meta.filename) {
  const violations = tableOwnershipViolations();
  for (const v of violations) console.error(`table-ownership: ${v}`);
  console.log(`table ownership: ${violations.length} queries name another module's table`);
  process.exitCode = violations.length > 0 ? 1 : 0;
}
