type Json = Record<string, unknown>;

/** The JSON types a schema admits, as a sorted `|` list (`null|string`). */
function typesOf(s: Json): string {
  if ('const' in s) return typeof s.const;
  if (Array.isArray(s.enum)) return [...new Set(s.enum.map((v) => typeof v))].sort().join('|');
  for (const key of ['anyOf', 'oneOf'] as const)
    if (Array.isArray(s[key]))
      return [...new Set((s[key] as Json[]).flatMap((p) => typesOf(p).split('|')))].sort().join('|');
  return typeof s.type === 'string' ? s.type : Array.isArray(s.type) ? [...s.type].sort().join('|') : 'any';
}

/**
 * Every field a response schema can carry, as dotted paths (`reported.locks.value.locked`, arrays as `[]`) with
 * the JSON types each admits: what a version exposes, compared field by field across versions.
 */
export function leafFields(schema: unknown, path = ''): Map<string, string> {
  const out = new Map<string, string>();
  const s = (schema ?? {}) as Json;
  const alternatives = (s.anyOf ?? s.oneOf ?? s.allOf) as Json[] | undefined;
  if (Array.isArray(alternatives)) {
    for (const part of alternatives)
      for (const [k, v] of leafFields(part, path)) out.set(k, out.has(k) ? `${out.get(k)}|${v}` : v);
    for (const [k, v] of out) out.set(k, [...new Set(v.split('|'))].sort().join('|'));
    return out;
  }
  if (s.content && typeof s.content === 'object') {
    for (const media of Object.values(s.content as Record<string, { schema?: unknown }>))
      for (const [k, v] of leafFields(media.schema, path)) out.set(k, v);
    return out;
  }
  if (s.type === 'object') {
    const props = { ...((s.properties ?? {}) as Json), ...((s.patternProperties ?? {}) as Json) };
    for (const [name, sub] of Object.entries(props))
      for (const [k, v] of leafFields(sub, path ? `${path}.${name}` : name)) out.set(k, v);
    if (path && Object.keys(props).length === 0) out.set(path, 'object');
    return out;
  }
  if (s.type === 'array') return leafFields(s.items, `${path}[]`);
  if (path) out.set(path, typesOf(s));
  return out;
}
