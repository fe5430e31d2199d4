/**
 * `npm run bench -- <name>` runs bench/<name>.ts. Each benchmark measures its own baseline in the same run
 * and prints one JSON object with the figures as its last line.
 */
import { readdirSync } from 'node:fs';

const name = process.argv[2];
const available = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join('|')}>\n`);
  process.exit(2);
}
await import(`./${name}.ts`);
