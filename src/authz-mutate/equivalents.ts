import { readFileSync } from 'node:fs';
import type { EquivalentRecord } from './runner.js';

/** The reviewed equivalent mutants of the shipped policies, kept beside them. */
export const DEFAULT_EQUIVALENTS = new URL('../../policies/equivalent-mutants.json', import.meta.url).pathname;

/** Reads an equivalence file: `{ "equivalent": [{ "mutant": id, "reason": why }] }`; every record needs a reason. */
export function readEquivalents(file: string): EquivalentRecord[] {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { equivalent?: unknown };
  if (!Array.isArray(json.equivalent)) throw new Error(`${file}: expected { "equivalent": [...] }`);
  return json.equivalent.map((e: unknown, i) => {
    const r = e as Partial<EquivalentRecord>;
    if (typeof r.mutant !== 'string' || typeof r.reason !== 'string' || r.reason.trim().length < 20)
      throw new Error(`${file}: record ${i} needs a mutant id and a reason of at least a sentence`);
    return { mutant: r.mutant, reason: r.reason };
  });
}
