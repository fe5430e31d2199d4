import type { CatalogedRoute } from '../http/index.js';
import { leafFields } from './fields.js';

const RANK = { public: 0, internal: 1, confidential: 2, restricted: 3 } as const;

/** A field path of the new version as the old version names it (the longest renamed prefix applied). */
function oldName(path: string, renames: Readonly<Record<string, string>>): string {
  const prefix = Object.keys(renames)
    .filter((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[]`))
    .sort((a, b) => b.length - a.length)[0];
  return prefix === undefined ? path : `${renames[prefix]}${path.slice(prefix.length)}`;
}

/** The 2xx response fields of a route, over all its success codes. */
function successFields(route: CatalogedRoute): Map<string, string> {
  const out = new Map<string, string>();
  for (const [code, schema] of Object.entries((route.schema.response ?? {}) as Record<string, unknown>))
    if (code.startsWith('2')) for (const [k, v] of leafFields(schema)) out.set(k, v);
  return out;
}

/**
 * What a new version of a route does that the old one did not, as sentences (none: the contract holds): a response
 * field the old version did not expose (through `renames`, new path prefix -> old), a field whose types widened,
 * or a weaker authorization (another action, fewer scopes, more caller kinds, no 403-before-404 visibility check,
 * another authentication, a lower data classification).
 */
export function versionContractBreaks(
  old: CatalogedRoute,
  next: CatalogedRoute,
  renames: Readonly<Record<string, string>> = {},
): string[] {
  const problems: string[] = [];
  const before = successFields(old);
  for (const [path, types] of successFields(next)) {
    const was = before.get(oldName(path, renames));
    if (was === undefined) problems.push(`exposes ${path}, which ${old.method} ${old.url} does not`);
    else if (!types.split('|').every((t) => was.split('|').includes(t)))
      problems.push(`widens ${path} from ${was} to ${types}`);
  }
  const a = old.entry;
  const b = next.entry;
  if (a.action !== b.action) problems.push(`authorizes ${b.action} instead of ${a.action}`);
  const missing = a.scopes.filter((s) => !b.scopes.includes(s));
  if (missing.length > 0) problems.push(`no longer requires the scopes ${missing.join(', ')}`);
  const callers = b.callers.filter((c) => !a.callers.includes(c));
  if (callers.length > 0) problems.push(`admits new caller kinds ${callers.join(', ')}`);
  if (old.facts.auth.kind !== next.facts.auth.kind)
    problems.push(`authenticates by ${next.facts.auth.kind} instead of ${old.facts.auth.kind}`);
  if ((old.facts.visibleWith ?? null) !== (next.facts.visibleWith ?? null))
    problems.push(`checks visibility with ${next.facts.visibleWith ?? 'nothing'} instead of ${old.facts.visibleWith}`);
  if (RANK[b.classification] < RANK[a.classification])
    problems.push(`lowers the classification from ${a.classification} to ${b.classification}`);
  return problems;
}
