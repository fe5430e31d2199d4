import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tableOwnershipViolations } from '../scripts/check-table-ownership.js';

const run = promisify(execFile);

/** A two-module source tree: `a` owns table `alpha`, `b` owns `beta`. */
function tree(bQuery: string): string {
  const src = mkdtempSync(join(tmpdir(), 'carapace-structure-'));
  mkdirSync(join(src, 'a'));
  mkdirSync(join(src, 'b'));
  writeFileSync(join(src, 'a', 'tables.ts'), 'export interface ATables {\n  alpha: { id: string };\n}\n');
  writeFileSync(join(src, 'b', 'tables.ts'), 'export interface BTables {\n  beta: { id: string };\n}\n');
  writeFileSync(join(src, 'b', 'store.ts'), `export const q = (db: any) => ${bQuery};\n`);
  return src;
}

describe('module boundaries', () => {
  it("finds a module that queries another module's table, in Kysely calls and in sql text", () => {
    expect(tableOwnershipViolations(tree("db.selectFrom('beta').selectAll()"))).toEqual([]);
    expect(tableOwnershipViolations(tree("db.selectFrom('alpha').selectAll()"))).toEqual([
      'src/b/store.ts:1 alpha (owned by a)',
    ]);
    expect(tableOwnershipViolations(tree("db.innerJoin('alpha as x', 'x.id', 'beta.id')"))).toHaveLength(1);
    expect(tableOwnershipViolations(tree('sql`update alpha set id = 1`'))).toHaveLength(1);
  });

  it('holds on this tree: no module reads or writes a table it does not own', () => {
    expect(tableOwnershipViolations()).toEqual([]);
  });

  it("dependency-cruiser finds no import of another module's internals and no cycle", async () => {
    const { stdout } = await run(
      'npx',
      ['depcruise', 'src', 'test', 'bench', 'scripts', '--config', '.dependency-cruiser.cjs'],
      {
        cwd: join(import.meta.dirname, '..'),
      },
    ).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
    expect(stdout).toContain('no dependency violations found');
  });
});
